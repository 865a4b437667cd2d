"""What the parts of the RedeemService servicer share: the caller's program and its members."""

from __future__ import annotations

from runtime.errors import InvalidArgument, TamaruError
from runtime.grpcserver import current_principal
from services.redeem.entrypoints.wiring import Redeem
from tamaru.accounts.v1 import members_pb2


class RpcBase:
    def __init__(self, redeem: Redeem) -> None:
        self.redeem = redeem

    def program(self, *, open_only: bool = False) -> str:
        program_id = current_principal().program_id
        if open_only:
            self.redeem.ctx.programs.require_open(program_id)
        else:
            self.redeem.ctx.programs.get(program_id)
        return program_id

    async def member_id(
        self, program_id: str, selector: members_pb2.MemberSelector, field: str = "member"
    ) -> str:
        """The member's account id (a merged member resolves to its survivor)."""
        if selector.WhichOneof("selector") is None:
            raise InvalidArgument(
                f"{field} is required (account_id, external_ref or identifier)", field=field
            )
        try:
            resolved = await self.redeem.accounts(program_id).resolve(selector)
        except TamaruError as error:
            if not error.field or error.field == "member":
                error.field = field
            raise
        return resolved.account_id
