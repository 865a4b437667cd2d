"""NATS lookups of many members at once (`tamaru.cmd.accounts.ResolveIdentifiers`): one
command and three queries for a chunk of earn's batch purchases instead of one command each."""

from __future__ import annotations

from runtime.db.driver import fetch_all
from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.errors import InvalidArgument, TamaruError
from runtime.messaging.commands import CommandContext, CommandServer, error_detail
from runtime.service import ServiceContext
from services.accounts.adapters.member_lookup import resolve_account_ids
from tamaru.accounts.v1 import ledger_pb2
from tamaru.accounts.v1 import lookup_commands_pb2 as lc

MAX_MEMBERS = 10_000
# Every purchase earn records asks this once: a fixed statement (runtime/db/driver.py).
_STATUS_AND_TIER = (
    "SELECT member_id, status, tier_id FROM members "
    "WHERE program_id = %(p)s AND member_id = ANY(CAST(%(ids)b AS text[]))"
)


class LookupCommands:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def register(self, server: CommandServer) -> None:
        server.register(
            "ResolveIdentifiers",
            lc.MemberLookupCommandServiceResolveIdentifiersRequest,
            self.ResolveIdentifiers,
        )

    async def ResolveIdentifiers(
        self, cmd: CommandContext, r: lc.MemberLookupCommandServiceResolveIdentifiersRequest
    ) -> lc.MemberLookupCommandServiceResolveIdentifiersResponse:
        program = cmd.program_id
        if r.program_id and r.program_id != program:
            raise InvalidArgument(
                "program_id in the command differs from its Tamaru-Program header",
                field="program_id",
            )
        self.ctx.programs.get(program)
        if len(r.members) > MAX_MEMBERS:
            raise InvalidArgument(f"at most {MAX_MEMBERS:,} members per command", field="members")

        async def look_up(
            uow: UnitOfWork,
        ) -> tuple[list[str | TamaruError], dict[str, tuple[str, str]]]:
            found = await resolve_account_ids(
                uow.session, program, list(r.members), field="members[{index}]"
            )
            ids = [f for f in found if not isinstance(f, TamaruError)]
            rows = {
                member_id: (status, tier_id)
                for member_id, status, tier_id in await fetch_all(
                    uow.session, _STATUS_AND_TIER, {"p": program, "ids": ids}
                )
            }
            return found, rows

        # Earn asks this before every purchase: a read that keeps the connection's prepared
        # statements (run_read).
        found, rows = await run_read(self.ctx.uow, look_up)
        reply = lc.MemberLookupCommandServiceResolveIdentifiersResponse()
        for account in found:
            if isinstance(account, TamaruError):
                reply.members.add(error=error_detail(account))
                continue
            status, tier_id = rows[account]
            reply.members.add(
                account_id=account,
                status=ledger_pb2.AccountStatus.Value(f"ACCOUNT_STATUS_{status.upper()}"),
                tier_id=tier_id,
            )
        return reply
