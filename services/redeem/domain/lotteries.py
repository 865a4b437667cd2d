"""Lotteries: creation rules, who may enter when, and how often."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from runtime.errors import FailedPrecondition, InvalidArgument
from services.redeem.domain.orders import SKU_PATTERN, check_text

MAX_PRIZES = 20
MAX_PRIZE_COUNT = 1000
MAX_ENTRIES = 1000
MAX_POINTS = 10**12


@dataclass(frozen=True, slots=True)
class CreateLottery:
    title: str
    prizes: tuple[tuple[str, int], ...]
    entry_cost_points: int
    max_entries_per_member: int
    opens_at: datetime
    closes_at: datetime
    draw_at: datetime


def validate_lottery(cmd: CreateLottery) -> CreateLottery:
    check_text(cmd.title, "title", required=True)
    if not 1 <= len(cmd.prizes) <= MAX_PRIZES:
        raise InvalidArgument(f"1 to {MAX_PRIZES} prizes are required", field="prizes")
    seen: set[str] = set()
    for index, (sku, count) in enumerate(cmd.prizes):
        if not SKU_PATTERN.match(sku) or sku in seen:
            raise InvalidArgument(
                "sku must be a catalog sku, each prize once", field=f"prizes[{index}].sku"
            )
        seen.add(sku)
        if not 1 <= count <= MAX_PRIZE_COUNT:
            raise InvalidArgument(
                f"count must be between 1 and {MAX_PRIZE_COUNT}", field=f"prizes[{index}].count"
            )
    if not 1 <= cmd.entry_cost_points <= MAX_POINTS:
        raise InvalidArgument("entry_cost_points must be 1 or more", field="entry_cost_points")
    if not 1 <= cmd.max_entries_per_member <= MAX_ENTRIES:
        raise InvalidArgument(
            f"max_entries_per_member must be between 1 and {MAX_ENTRIES}",
            field="max_entries_per_member",
        )
    if cmd.closes_at <= cmd.opens_at:
        raise InvalidArgument(
            "entries_close_time must be after entries_open_time", field="entries_close_time"
        )
    if cmd.draw_at < cmd.closes_at:
        raise InvalidArgument("draw_time must not be before entries_close_time", field="draw_time")
    return cmd


def check_entry(
    *,
    status: str,
    opens_at: datetime,
    closes_at: datetime,
    max_entries: int,
    member_entries: int,
    now: datetime,
) -> None:
    if status != "open" or not opens_at <= now < closes_at:
        raise FailedPrecondition(
            f"the lottery takes entries from {opens_at.isoformat()} until {closes_at.isoformat()}",
            reason="LOTTERY_NOT_OPEN",
            field="lottery_id",
        )
    if member_entries >= max_entries:
        raise FailedPrecondition(
            f"a member may enter this lottery at most {max_entries} times",
            reason="ENTRY_LIMIT_REACHED",
            field="member",
        )


def check_draw(*, status: str, draw_at: datetime, now: datetime) -> None:
    if status != "open":
        raise FailedPrecondition(
            "the lottery was drawn already", reason="LOTTERY_ALREADY_DRAWN", field="lottery_id"
        )
    if now < draw_at:
        raise FailedPrecondition(
            f"the lottery is drawn at {draw_at.isoformat()}, not before",
            reason="DRAW_TOO_EARLY",
            field="lottery_id",
        )


def prize_pairs(prizes: Sequence[dict[str, object]]) -> list[tuple[str, int]]:
    return [(str(p["sku"]), int(str(p["count"]))) for p in prizes]
