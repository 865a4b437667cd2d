"""What every part of the billing servicer shares: the caller's program, idempotent
mutations and read-only units of work (the same shape as accounts')."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.grpcserver import current_principal
from runtime.idempotency import run_idempotent
from runtime.programs.spec import ProgramSpec
from runtime.service import ServiceContext
from services.billing.documents.issuer import Issuer
from services.billing.service_layer.invoices import Billing

R = TypeVar("R", bound=Message)
T = TypeVar("T")


class RpcBase:
    def __init__(self, ctx: ServiceContext, issuer: Issuer) -> None:
        self.ctx = ctx
        self.issuer = issuer

    def program(self) -> tuple[str, ProgramSpec]:
        program_id = current_principal().program_id
        return program_id, self.ctx.programs.spec(program_id)

    async def mutate(
        self,
        scope: str,
        request: Message,
        response_type: type[R],
        work: Callable[[Billing], Awaitable[R]],
    ) -> R:
        """An idempotent change to the caller's program's invoices. Closed programs are still
        billed and corrected, so no require_open here."""
        program_id, spec = self.program()
        return await run_idempotent(
            self.ctx.uow,
            program_id=program_id,
            scope=f"billing.{scope}",
            key=getattr(request, "idempotency_key", ""),
            request=request,
            response_type=response_type,
            work=lambda uow: work(Billing(uow, program_id, spec)),
        )

    async def read(self, work: Callable[[Billing], Awaitable[T]]) -> T:
        """Reads may create or refresh drafts (derived rows), so they run in a transaction."""
        program_id, spec = self.program()

        async def once(uow: UnitOfWork) -> T:
            return await work(Billing(uow, program_id, spec))

        return await run_in_transaction(self.ctx.uow, once)
