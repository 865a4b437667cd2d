"""Requests to change the ledger (imperative). Planners validate them and raise domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.accounts.domain.model import NORMAL_KIND, Source


@dataclass(frozen=True, slots=True)
class Credit:
    account_id: str
    amount: int
    source: Source
    kind: str = NORMAL_KIND
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""
    sponsor_funded: bool = False  # billing charges the sponsor for these points
    earned_at: datetime | None = None  # for imported history; None means now


@dataclass(frozen=True, slots=True)
class Debit:
    account_id: str
    amount: int
    source: Source
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class PlaceHold:
    account_id: str
    amount: int
    source: Source
    ttl: timedelta
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class CaptureHold:
    hold_id: str
    amount: int | None = None  # None captures all; less captures part and releases the rest
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    hold_id: str
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class Reverse:
    """Undo (part of) a transaction: a return claws back a credit, a cancel restores a spend."""

    tx_id: str
    reason: str
    source: Source
    amount: int | None = None  # None reverses whatever is left to reverse
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class Transfer:
    from_account_id: str
    to_account_id: str
    amount: int
    source: Source
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class AdjustPoints:
    """An administrator's correction: positive `delta` adds a lot, negative spends."""

    account_id: str
    delta: int
    reason: str
    actor: str
    source: Source
    kind: str = NORMAL_KIND
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class MergeAccounts:
    survivor_account_id: str
    absorbed_account_id: str
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""


class ManualTierMode(StrEnum):
    FLOOR = "floor"  # the member is at least this tier
    OVERRIDE = "override"  # the member is exactly this tier


@dataclass(frozen=True, slots=True)
class SetManualTier:
    account_id: str
    tier_id: str  # "" clears the manual tier
    mode: ManualTierMode
    reason: str
    actor: str = ""
    until: datetime | None = None
