"""Accounts' ledger commands as earn uses them (NATS request/reply, keys passed through).

Earn never writes the ledger: every credit, reversal and transfer is a command to accounts
whose idempotency key is derived from the client's key or event id (`<key>:<step>`), so a
retry of the client's call repeats none of them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import TamaruError, error_for_code
from runtime.messaging.commands import CommandClient
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.accounts.v1 import commands_pb2 as c
from tamaru.accounts.v1 import lookup_commands_pb2 as lc

ACTIVE = ledger_pb2.ACCOUNT_STATUS_ACTIVE
GROUP_PAGE = 5000
# A batch of 1,000 credits is one accounts transaction of a second or two on a busy machine.
BATCH_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class MemberInfo:
    account_id: str
    status: int
    tier_id: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def by_account(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


class AccountsClient:
    def __init__(self, commands: CommandClient, program_id: str, actor: str) -> None:
        self._commands = commands
        self._program = program_id
        self._actor = actor

    async def resolve(self, member: members_pb2.MemberSelector) -> MemberInfo:
        """One member's account, status and tier: the many-member lookup with one selector
        (two indexed reads), not ResolveIdentifier, which also reads the balance and groups."""
        found = (await self.resolve_many([member]))[0]
        if isinstance(found, TamaruError):
            found.field = "member"
            raise found
        return found

    async def credit(
        self,
        key: str,
        account_id: str,
        amount: int,
        *,
        kind: str,
        source: ledger_pb2.Source,
        reason: str,
        sponsor_funded: bool,
        earned_at: datetime | None = None,
        member: members_pb2.MemberSelector | None = None,
    ) -> c.LedgerCommandServiceCreditResponse:
        """Credit `account_id` (or the member `member` selects, when given)."""
        request = c.LedgerCommandServiceCreditRequest(
            idempotency_key=key,
            member=member or by_account(account_id),
            amount=amount,
            kind=kind,
            source=source,
            reason=reason[:500],
            actor=self._actor,
            sponsor_funded=sponsor_funded,
        )
        if earned_at is not None:
            stamp = Timestamp()
            stamp.FromDatetime(earned_at)
            request.earned_at.CopyFrom(stamp)
        return await self._commands.call(
            "accounts",
            "Credit",
            request,
            c.LedgerCommandServiceCreditResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def reverse(
        self, key: str, transaction_id: str, amount: int, *, source: ledger_pb2.Source, reason: str
    ) -> c.LedgerCommandServiceReverseResponse:
        return await self._commands.call(
            "accounts",
            "Reverse",
            c.LedgerCommandServiceReverseRequest(
                idempotency_key=key,
                transaction_id=transaction_id,
                amount=amount,
                source=source,
                reason=reason[:500],
                actor=self._actor,
            ),
            c.LedgerCommandServiceReverseResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def transfer(
        self,
        key: str,
        sender: str,
        receiver: str,
        amount: int,
        *,
        source: ledger_pb2.Source,
        reason: str,
    ) -> c.LedgerCommandServiceTransferResponse:
        return await self._commands.call(
            "accounts",
            "Transfer",
            c.LedgerCommandServiceTransferRequest(
                idempotency_key=key,
                from_member=by_account(sender),
                to_member=by_account(receiver),
                amount=amount,
                source=source,
                reason=reason[:500],
                actor=self._actor,
            ),
            c.LedgerCommandServiceTransferResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def batch_credit(
        self, entries: Sequence[accounts_pb2.BatchCreditEntry]
    ) -> c.LedgerCommandServiceBatchCreditResponse:
        """Credit many entries in one accounts transaction; each entry carries its own key."""
        return await self._commands.call(
            "accounts",
            "BatchCredit",
            c.LedgerCommandServiceBatchCreditRequest(entries=entries, actor=self._actor),
            c.LedgerCommandServiceBatchCreditResponse,
            program_id=self._program,
            timeout=BATCH_TIMEOUT_SECONDS,
        )

    async def group_members(self, group_id: str, *, subgroups: bool) -> AsyncIterator[list[str]]:
        """The group's active members' account ids, a page at a time."""
        token = ""
        while True:
            page = await self._commands.call(
                "accounts",
                "ListGroupMembers",
                c.LedgerCommandServiceListGroupMembersRequest(
                    group_id=group_id,
                    include_subgroups=subgroups,
                    page_size=GROUP_PAGE,
                    page_token=token,
                ),
                c.LedgerCommandServiceListGroupMembersResponse,
                program_id=self._program,
            )
            yield list(page.account_ids)
            token = page.next_page_token
            if not token:
                return

    async def resolve_many(
        self, members: Sequence[members_pb2.MemberSelector]
    ) -> list[MemberInfo | TamaruError]:
        """Many members in one command; each one's MemberInfo or its own error."""
        reply = await self._commands.call(
            "accounts",
            "ResolveIdentifiers",
            lc.MemberLookupCommandServiceResolveIdentifiersRequest(members=members),
            lc.MemberLookupCommandServiceResolveIdentifiersResponse,
            program_id=self._program,
        )
        return [
            error_for_code(m.error.code, m.error.message, reason=m.error.reason)
            if m.HasField("error")
            else MemberInfo(m.account_id, m.status, m.tier_id)
            for m in reply.members
        ]


def credit_refusal(result: accounts_pb2.BatchCreditEntryResult) -> TamaruError:
    """A refused batch entry as the error a single credit would have raised."""
    message = re.sub(r"^entries\[\d+\]: ", "", result.error.message)
    return error_for_code(result.error.code, message, reason=result.error.reason)
