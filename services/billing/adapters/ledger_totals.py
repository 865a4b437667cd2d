"""Accounts' journal totals over NATS (`tamaru.cmd.accounts.GetSponsorFundedTotals`): the
sponsor-funded points credited and clawed back per billing period. Billing never reads
accounts' tables; it sends the periods' bounds (local midnights in the program's zone) and
gets the sums back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.messaging.commands import CommandClient
from services.billing.domain.periods import Period
from services.billing.domain.reconciliation import LedgerTally
from tamaru.accounts.v1 import commands_pb2 as c

# Periods per command: two years keeps each query (and reply) small for a busy program.
CHUNK = 24


def _stamp(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


class LedgerTotals:
    def __init__(self, commands: CommandClient, program_id: str) -> None:
        self._commands = commands
        self._program = program_id

    async def _call(
        self, boundaries: Sequence[datetime]
    ) -> c.LedgerCommandServiceGetSponsorFundedTotalsResponse:
        return await self._commands.call(
            "accounts",
            "GetSponsorFundedTotals",
            c.LedgerCommandServiceGetSponsorFundedTotalsRequest(
                boundaries=[_stamp(b) for b in boundaries]
            ),
            c.LedgerCommandServiceGetSponsorFundedTotalsResponse,
            program_id=self._program,
        )

    async def first_occurred_at(self) -> datetime | None:
        """The program's first sponsor-funded credit or clawback in the journal."""
        reply = await self._call(())
        if not reply.HasField("first_occurred_at"):
            return None
        return reply.first_occurred_at.ToDatetime(tzinfo=UTC)

    async def by_period(self, periods: Sequence[Period], zone: tzinfo) -> dict[Period, LedgerTally]:
        """`periods`: consecutive, oldest first."""
        out: dict[Period, LedgerTally] = {}
        for i in range(0, len(periods), CHUNK):
            chunk = periods[i : i + CHUNK]
            bounds = [p.start(zone) for p in chunk] + [chunk[-1].end(zone)]
            reply = await self._call(bounds)
            for period, totals in zip(chunk, reply.periods, strict=True):
                out[period] = LedgerTally(
                    totals.credited_points,
                    totals.credits,
                    totals.clawed_back_points,
                    totals.clawbacks,
                )
        return out
