"""NATS commands other services send to the ledger (`tamaru.cmd.accounts.<Method>`):
earn credits and reverses, redeem holds/captures/releases, thanks transfers.

The program comes from the command header and must match the message's `program_id` when that
is set; the idempotency key travels from the client's request through here into the ledger
transaction, so a retry anywhere along the way takes effect once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction, run_read
from runtime.errors import InvalidArgument
from runtime.group_commit import GroupCommit
from runtime.idempotency import run_idempotent
from runtime.messaging.commands import CommandContext, CommandServer
from runtime.service import ServiceContext
from services.accounts.adapters.event_mapping import source_proto, timestamp, to_proto
from services.accounts.adapters.group_repository import get_group
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.adapters.member_queries import MemberFilter, group_ids_of, member_page
from services.accounts.adapters.orm import MemberRow
from services.accounts.adapters.sponsor_totals import (
    SponsorTotals,
    sponsor_funded_span,
    sponsor_funded_totals,
)
from services.accounts.domain.commands import (
    CaptureHold,
    PlaceHold,
    ReleaseHold,
)
from services.accounts.domain.model import Hold
from services.accounts.entrypoints import grouped_credits, grouped_debits
from services.accounts.entrypoints.batch_credit import check_size, credit_entries
from services.accounts.entrypoints.grouped_batch_credits import (
    GROUPABLE_ENTRIES,
    BatchCreditCall,
    BatchGroup,
    batch_credit_group_commit,
)
from services.accounts.entrypoints.grouped_calls import LedgerCall
from services.accounts.entrypoints.ledger_convert import (
    credit_command,
    credit_result,
    debit_command,
    debit_result,
    reverse_command,
    source_from,
    transfer_command,
)
from services.accounts.entrypoints.sponsor_convert import boundaries_from, sponsor_totals_proto
from services.accounts.service_layer.ledger import Ledger
from services.accounts.service_layer.program_policy import ledger_policy
from tamaru.accounts.v1 import commands_pb2 as c
from tamaru.accounts.v1 import ledger_pb2

R = TypeVar("R", bound=Message)

MAX_GROUP_PAGE = 10_000


def hold_proto(hold: Hold) -> ledger_pb2.Hold:
    proto = ledger_pb2.Hold(
        hold_id=hold.hold_id,
        account_id=hold.account_id,
        amount=hold.amount,
        status=ledger_pb2.HoldStatus.Value(f"HOLD_STATUS_{hold.status.value.upper()}"),
        source=source_proto(hold.source),
        created_at=timestamp(hold.created_at),
        expires_at=timestamp(hold.expires_at),
        captured_amount=hold.captured_amount,
        allocations=[
            ledger_pb2.LotDraw(lot_id=a.lot_id, amount=a.amount) for a in hold.allocations
        ],
    )
    if hold.settled_at is not None:
        proto.settled_at.CopyFrom(timestamp(hold.settled_at))
    return proto


def idempotency_key(cmd: CommandContext, request: Any) -> str:
    """The command header's key, or the request's when the header has none."""
    return str(cmd.idempotency_key or request.idempotency_key)


class LedgerCommands:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # Credits queued behind one in flight commit together (grouped_credits.py,
        # grouped_batch_credits.py).
        self.credits = grouped_credits.credit_group_commit(
            ctx.uow, self._ledger, grouped_credits.COMMAND_REPLIES
        )
        self.debits = grouped_debits.debit_group_commit(
            ctx.uow, self._ledger, grouped_debits.COMMAND_REPLIES
        )
        self.batch_credits = batch_credit_group_commit(ctx.uow, self._ledger)

    def register(self, server: CommandServer) -> None:
        for method, request_type in (
            ("Credit", c.LedgerCommandServiceCreditRequest),
            ("Debit", c.LedgerCommandServiceDebitRequest),
            ("PlaceHold", c.LedgerCommandServicePlaceHoldRequest),
            ("CaptureHold", c.LedgerCommandServiceCaptureHoldRequest),
            ("ReleaseHold", c.LedgerCommandServiceReleaseHoldRequest),
            ("Reverse", c.LedgerCommandServiceReverseRequest),
            ("Transfer", c.LedgerCommandServiceTransferRequest),
            ("ResolveIdentifier", c.LedgerCommandServiceResolveIdentifierRequest),
            ("BatchCredit", c.LedgerCommandServiceBatchCreditRequest),
            ("ListGroupMembers", c.LedgerCommandServiceListGroupMembersRequest),
            ("GetSponsorFundedTotals", c.LedgerCommandServiceGetSponsorFundedTotalsRequest),
        ):
            server.register(method, request_type, getattr(self, method))

    def _ledger(self, program_id: str) -> Ledger:
        return Ledger(program_id, ledger_policy(self.ctx.programs.spec(program_id)))

    def _program(self, cmd: CommandContext, request: Any) -> str:
        if request.program_id and request.program_id != cmd.program_id:
            raise InvalidArgument(
                "program_id in the command differs from its Tamaru-Program header",
                field="program_id",
            )
        return cmd.program_id

    def _admit(self, cmd: CommandContext, request: Any) -> tuple[str, str]:
        """The command's program, refused unless open, and its idempotency key."""
        program_id = self._program(cmd, request)
        self.ctx.programs.require_open(program_id)
        return program_id, idempotency_key(cmd, request)

    async def _run(
        self,
        cmd: CommandContext,
        request: Any,
        scope: str,
        response_type: type[R],
        work: Callable[[UnitOfWork, str], Awaitable[R]],
    ) -> R:
        program_id, key = self._admit(cmd, request)
        return await run_idempotent(
            self.ctx.uow,
            program_id=program_id,
            scope=f"accounts.cmd.{scope}",
            key=key,
            request=request,
            response_type=response_type,
            work=lambda uow: work(uow, program_id),
        )

    async def _grouped(
        self,
        commit: GroupCommit[str, LedgerCall, R],
        cmd: CommandContext,
        request: Any,
        scope: str,
        response_type: type[R],
        work: Callable[[UnitOfWork, str], Awaitable[R]],
    ) -> R:
        """`_run`, alone or in a batch with the program's commands of the same kind that
        arrive meanwhile (group commit)."""

        async def alone() -> R:
            return await self._run(cmd, request, scope, response_type, work)

        program_id, key = self._admit(cmd, request)
        return await commit.submit(program_id, LedgerCall(request, request.actor, key), alone)

    async def Credit(
        self, cmd: CommandContext, r: c.LedgerCommandServiceCreditRequest
    ) -> c.LedgerCommandServiceCreditResponse:
        key = idempotency_key(cmd, r)

        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceCreditResponse:
            account_id = await resolve_account_id(uow.session, program, r.member)
            plan = await self._ledger(program).credit(
                uow, credit_command(r, account_id, r.actor, key)
            )
            lot = plan.new_lots[0]
            return c.LedgerCommandServiceCreditResponse(
                result=credit_result(
                    plan.transaction.tx_id,
                    account_id,
                    lot.lot_id,
                    lot.expires_at,
                    getattr(plan.events[0], "deficit_repaid", 0),
                ),
                available=plan.account_updates[0].available,
            )

        return await self._grouped(
            self.credits, cmd, r, "Credit", c.LedgerCommandServiceCreditResponse, work
        )

    async def Debit(
        self, cmd: CommandContext, r: c.LedgerCommandServiceDebitRequest
    ) -> c.LedgerCommandServiceDebitResponse:
        key = idempotency_key(cmd, r)

        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceDebitResponse:
            account_id = await resolve_account_id(uow.session, program, r.member)
            plan = await self._ledger(program).debit(
                uow, debit_command(r, account_id, r.actor, key)
            )
            return c.LedgerCommandServiceDebitResponse(
                result=debit_result(plan), available=plan.account_updates[0].available
            )

        return await self._grouped(
            self.debits, cmd, r, "Debit", c.LedgerCommandServiceDebitResponse, work
        )

    async def PlaceHold(
        self, cmd: CommandContext, r: c.LedgerCommandServicePlaceHoldRequest
    ) -> c.LedgerCommandServicePlaceHoldResponse:
        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServicePlaceHoldResponse:
            account_id = await resolve_account_id(uow.session, program, r.member)
            ttl = r.ttl_seconds or self.ctx.programs.spec(program).redeem.hold_ttl_seconds
            plan = await self._ledger(program).place_hold(
                uow,
                PlaceHold(
                    account_id=account_id,
                    amount=r.amount,
                    source=source_from(r.source),
                    ttl=timedelta(seconds=ttl),
                    reason=r.reason,
                    actor=r.actor,
                    idempotency_key=cmd.idempotency_key,
                ),
            )
            return c.LedgerCommandServicePlaceHoldResponse(
                hold=hold_proto(plan.hold), available=plan.account_updates[0].available
            )

        return await self._run(cmd, r, "PlaceHold", c.LedgerCommandServicePlaceHoldResponse, work)

    async def CaptureHold(
        self, cmd: CommandContext, r: c.LedgerCommandServiceCaptureHoldRequest
    ) -> c.LedgerCommandServiceCaptureHoldResponse:
        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceCaptureHoldResponse:
            plan = await self._ledger(program).capture_hold(
                uow,
                CaptureHold(
                    hold_id=r.hold_id,
                    amount=r.amount or None,
                    reason=r.reason,
                    actor=r.actor,
                    idempotency_key=cmd.idempotency_key,
                ),
            )
            expired = sum(t.amount for t in plan.transactions if t.type.value == "expiry")
            return c.LedgerCommandServiceCaptureHoldResponse(
                hold=hold_proto(plan.hold),
                transaction_id=plan.transaction.tx_id,
                expired=expired,
            )

        return await self._run(
            cmd, r, "CaptureHold", c.LedgerCommandServiceCaptureHoldResponse, work
        )

    async def ReleaseHold(
        self, cmd: CommandContext, r: c.LedgerCommandServiceReleaseHoldRequest
    ) -> c.LedgerCommandServiceReleaseHoldResponse:
        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceReleaseHoldResponse:
            plan = await self._ledger(program).release_hold(
                uow,
                ReleaseHold(
                    hold_id=r.hold_id,
                    reason=r.reason,
                    actor=r.actor,
                    idempotency_key=cmd.idempotency_key,
                ),
            )
            expired = sum(t.amount for t in plan.transactions if t.type.value == "expiry")
            return c.LedgerCommandServiceReleaseHoldResponse(
                hold=hold_proto(plan.hold), expired=expired
            )

        return await self._run(
            cmd, r, "ReleaseHold", c.LedgerCommandServiceReleaseHoldResponse, work
        )

    async def Reverse(
        self, cmd: CommandContext, r: c.LedgerCommandServiceReverseRequest
    ) -> c.LedgerCommandServiceReverseResponse:
        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceReverseResponse:
            plan = await self._ledger(program).reverse(
                uow, reverse_command(r, r.actor, cmd.idempotency_key)
            )
            event = to_proto(plan.events[0])
            account = await LedgerRepository(uow.session, program).get_account(
                plan.transaction.account_id
            )
            return c.LedgerCommandServiceReverseResponse(
                result=getattr(event, "result", None), available=account.available
            )

        return await self._run(cmd, r, "Reverse", c.LedgerCommandServiceReverseResponse, work)

    async def Transfer(
        self, cmd: CommandContext, r: c.LedgerCommandServiceTransferRequest
    ) -> c.LedgerCommandServiceTransferResponse:
        async def work(uow: UnitOfWork, program: str) -> c.LedgerCommandServiceTransferResponse:
            sender = await resolve_account_id(
                uow.session, program, r.from_member, field="from_member"
            )
            receiver = await resolve_account_id(
                uow.session, program, r.to_member, field="to_member"
            )
            plan = await self._ledger(program).transfer(
                uow, transfer_command(r, sender, receiver, r.actor, cmd.idempotency_key)
            )
            after = {a.account_id: a for a in plan.account_updates}
            return c.LedgerCommandServiceTransferResponse(
                transaction_id=plan.transaction.tx_id,
                from_account_id=sender,
                to_account_id=receiver,
                from_available=after[sender].available,
            )

        return await self._run(cmd, r, "Transfer", c.LedgerCommandServiceTransferResponse, work)

    async def ResolveIdentifier(
        self, cmd: CommandContext, r: c.LedgerCommandServiceResolveIdentifierRequest
    ) -> c.LedgerCommandServiceResolveIdentifierResponse:
        program = cmd.program_id
        self.ctx.programs.get(program)

        async def look_up(uow: UnitOfWork) -> c.LedgerCommandServiceResolveIdentifierResponse:
            account_id = await resolve_account_id(uow.session, program, r.member)
            row = await uow.session.get(MemberRow, account_id)
            assert row is not None
            balance = await LedgerRepository(uow.session, program).balance(
                account_id, datetime.now(UTC)
            )
            return c.LedgerCommandServiceResolveIdentifierResponse(
                account_id=account_id,
                external_ref=row.external_ref,
                status=ledger_pb2.AccountStatus.Value(f"ACCOUNT_STATUS_{row.status.upper()}"),
                tier_id=row.tier_id,
                group_ids=await group_ids_of(uow.session, program, account_id),
                available=balance.available,
                held=balance.held,
            )

        return await run_read(self.ctx.uow, look_up)

    async def BatchCredit(
        self, cmd: CommandContext, r: c.LedgerCommandServiceBatchCreditRequest
    ) -> c.LedgerCommandServiceBatchCreditResponse:
        program = self._program(cmd, r)
        self.ctx.programs.require_open(program)
        check_size(r.entries)
        for index, entry in enumerate(r.entries):
            if not entry.idempotency_key:
                raise InvalidArgument(
                    "every entry of a BatchCredit command needs its own idempotency_key",
                    reason="IDEMPOTENCY_KEY_MISSING",
                    field=f"entries[{index}].idempotency_key",
                )

        async def work(uow: UnitOfWork) -> c.LedgerCommandServiceBatchCreditResponse:
            batch = await credit_entries(
                uow, self._ledger(program), program, r.entries, batch_key="", actor=r.actor
            )
            return c.LedgerCommandServiceBatchCreditResponse(
                credited=batch.credited, rejected=batch.rejected, results=batch.results
            )

        async def alone() -> c.LedgerCommandServiceBatchCreditResponse:
            return await run_in_transaction(self.ctx.uow, work)

        if len(r.entries) > GROUPABLE_ENTRIES:
            return await alone()
        call = BatchCreditCall(r.entries)
        return await self.batch_credits.submit(BatchGroup(program, r.actor), call, alone)

    async def ListGroupMembers(
        self, cmd: CommandContext, r: c.LedgerCommandServiceListGroupMembersRequest
    ) -> c.LedgerCommandServiceListGroupMembersResponse:
        program = self._program(cmd, r)
        self.ctx.programs.get(program)
        if not 0 <= r.page_size <= MAX_GROUP_PAGE:
            raise InvalidArgument(f"page_size must be 1 to {MAX_GROUP_PAGE:,}", field="page_size")

        async def page(uow: UnitOfWork) -> tuple[list[str], str]:
            group = await get_group(uow.session, program, r.group_id, field="group_id")
            where = MemberFilter(
                group_id=group.group_id,
                group_path=group.path,
                include_subgroups=r.include_subgroups,
                status="active",
            )
            return await member_page(
                uow.session, program, where, size=r.page_size or 1000, token=r.page_token
            )

        ids, token = await run_read(self.ctx.uow, page)
        return c.LedgerCommandServiceListGroupMembersResponse(
            account_ids=ids, next_page_token=token
        )

    async def GetSponsorFundedTotals(
        self, cmd: CommandContext, r: c.LedgerCommandServiceGetSponsorFundedTotalsRequest
    ) -> c.LedgerCommandServiceGetSponsorFundedTotalsResponse:
        """Read-only (closed programs are still billed, so still reconciled)."""
        program = self._program(cmd, r)
        self.ctx.programs.get(program)
        boundaries = boundaries_from(r.boundaries)

        async def read(
            uow: UnitOfWork,
        ) -> tuple[datetime | None, datetime | None, list[SponsorTotals]]:
            first, last = await sponsor_funded_span(uow.session, program)
            return first, last, await sponsor_funded_totals(uow.session, program, boundaries)

        first, last, totals = await run_read(self.ctx.uow, read)
        reply = c.LedgerCommandServiceGetSponsorFundedTotalsResponse(
            periods=[sponsor_totals_proto(t) for t in totals]
        )
        if first is not None and last is not None:
            reply.first_occurred_at.CopyFrom(timestamp(first))
            reply.last_occurred_at.CopyFrom(timestamp(last))
        return reply
