"""GetSponsorFundedTotals: the caller's period boundaries in, the journal's totals out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.errors import InvalidArgument
from services.accounts.adapters.event_mapping import timestamp
from services.accounts.adapters.sponsor_totals import SponsorTotals
from tamaru.accounts.v1 import commands_pb2 as c

# 100 years of months, plus the end of the last one: enough for any reconciliation, small
# enough that one command stays well inside NATS's payload and the command timeout.
MAX_BOUNDARIES = 1_201


def boundaries_from(stamps: Sequence[Timestamp]) -> list[datetime]:
    """UTC instants, strictly increasing (periods [b0, b1), [b1, b2), ...)."""
    if len(stamps) > MAX_BOUNDARIES:
        raise InvalidArgument(
            f"at most {MAX_BOUNDARIES:,} boundaries ({MAX_BOUNDARIES - 1:,} periods) per "
            f"command, not {len(stamps):,}",
            field="boundaries",
        )
    if len(stamps) == 1:
        raise InvalidArgument(
            "one boundary makes no period: send none (the span only) or at least two",
            field="boundaries",
        )
    out: list[datetime] = []
    for index, stamp in enumerate(stamps):
        try:
            at = stamp.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            raise InvalidArgument(
                f"boundaries[{index}] is not a valid timestamp", field=f"boundaries[{index}]"
            ) from None
        if out and at <= out[-1]:
            raise InvalidArgument(
                f"boundaries must increase strictly: boundaries[{index}] ({at.isoformat()}) "
                f"is not after {out[-1].isoformat()}",
                field=f"boundaries[{index}]",
            )
        out.append(at)
    return out


def sponsor_totals_proto(totals: SponsorTotals) -> c.SponsorFundedPeriodTotals:
    return c.SponsorFundedPeriodTotals(
        start=timestamp(totals.start),
        end=timestamp(totals.end),
        credited_points=totals.credited_points,
        credits=totals.credits,
        clawed_back_points=totals.clawed_back_points,
        clawbacks=totals.clawbacks,
    )
