"""What every part of the earn servicer shares: the caller, idempotent mutations, reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from runtime.auth import Principal
from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.grpcserver import current_principal
from runtime.idempotency import run_idempotent
from runtime.service import ServiceContext
from services.earn.adapters.messages import event_id
from services.earn.entrypoints.grouped_purchases import PurchaseGroup, purchase_group_commit
from services.earn.service_layer import purchases
from services.earn.service_layer.deps import EarnDeps
from tamaru.earn.v1 import earn_pb2

R = TypeVar("R", bound=Message)
T = TypeVar("T")


class RpcBase:
    def __init__(self, ctx: ServiceContext, deps: EarnDeps) -> None:
        self.ctx = ctx
        self.deps = deps
        # Purchases queued behind one in flight are recorded together (grouped_purchases.py).
        self.purchases = purchase_group_commit(ctx.uow, deps)

    def caller(self) -> Principal:
        return current_principal()

    async def mutate(
        self,
        scope: str,
        key: str,
        request: Message,
        response_type: type[R],
        work: Callable[[UnitOfWork, str, str], Awaitable[R]],
    ) -> R:
        """An idempotent change for the caller's (open) program: work(uow, program, actor)."""
        caller = self.caller()
        self.ctx.programs.require_open(caller.program_id)
        return await run_idempotent(
            self.ctx.uow,
            program_id=caller.program_id,
            scope=f"earn.{scope}",
            key=key,
            request=request,
            response_type=response_type,
            work=lambda uow: work(uow, caller.program_id, caller.key_id),
        )

    async def read(self, work: Callable[[UnitOfWork, str, str], Awaitable[T]]) -> T:
        caller = self.caller()
        self.ctx.programs.get(caller.program_id)
        return await run_read(self.ctx.uow, lambda uow: work(uow, caller.program_id, caller.key_id))

    async def record_purchase(
        self, request: earn_pb2.RecordPurchaseRequest
    ) -> earn_pb2.RecordPurchaseResponse:
        """RecordPurchase, idempotent per purchase_id: the RPCs and the file import share it."""
        key = event_id(request.purchase.purchase_id, "purchase.purchase_id")

        async def alone() -> earn_pb2.RecordPurchaseResponse:
            return await self.mutate(
                "RecordPurchase",
                key,
                request,
                earn_pb2.RecordPurchaseResponse,
                lambda uow, program, actor: purchases.record_purchase(
                    uow, self.deps, program, actor, request.purchase
                ),
            )

        caller = self.caller()
        self.ctx.programs.require_open(caller.program_id)
        group = PurchaseGroup(caller.program_id, caller.key_id)
        return await self.purchases.submit(group, request.purchase, alone)
