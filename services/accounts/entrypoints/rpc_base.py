"""What every part of the accounts gRPC servicer shares: the caller's program, the ledger
bound to the program's policy, idempotent mutations and read-only units of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from runtime.auth import Principal
from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.grpcserver import current_principal
from runtime.idempotency import run_idempotent
from runtime.service import ServiceContext
from services.accounts.service_layer.ledger import Ledger
from services.accounts.service_layer.program_policy import ledger_policy

R = TypeVar("R", bound=Message)
T = TypeVar("T")


class RpcBase:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._ledgers: dict[tuple[str, int], Ledger] = {}

    def caller(self) -> Principal:
        return current_principal()

    def ledger(self, program_id: str) -> Ledger:
        known = self.ctx.programs.get(program_id)
        key = (program_id, known.generation)
        ledger = self._ledgers.get(key)
        if ledger is None:  # the policy is rebuilt only when the program's config changes
            ledger = self._ledgers[key] = Ledger(program_id, ledger_policy(known.spec))
        return ledger

    async def mutate(
        self,
        scope: str,
        request: Message,
        response_type: type[R],
        work: Callable[[UnitOfWork, str], Awaitable[R]],
    ) -> R:
        """An idempotent change on behalf of the caller's (open) program."""
        program_id = self.caller().program_id
        self.ctx.programs.require_open(program_id)
        return await run_idempotent(
            self.ctx.uow,
            program_id=program_id,
            scope=f"accounts.{scope}",
            key=getattr(request, "idempotency_key", ""),
            request=request,
            response_type=response_type,
            work=lambda uow: work(uow, program_id),
        )

    async def read(self, work: Callable[[UnitOfWork, str], Awaitable[T]]) -> T:
        program_id = self.caller().program_id
        self.ctx.programs.get(program_id)
        return await run_read(self.ctx.uow, lambda uow: work(uow, program_id))
