"""What happened in the ledger (past tense). The service layer turns these into outbox rows.

`event_type` is the JetStream subject suffix (`tamaru.evt.<program>.accounts.<event_type>`)
and the proto payload is `tamaru.accounts.v1.<ClassName>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from services.accounts.domain.model import LotDraw, Source, TxType


@dataclass(frozen=True, slots=True)
class PointsCredited:
    event_type: ClassVar[str] = "points_credited"
    program_id: str
    account_id: str
    tx_id: str
    lot_id: str
    amount: int
    kind: str
    expires_at: datetime | None
    source: Source
    reason: str
    actor: str
    sponsor_funded: bool
    occurred_at: datetime
    adjustment: bool = False  # an administrator's correction rather than an earn
    deficit_repaid: int = 0  # of `amount`, what went to repay an earlier clawback


@dataclass(frozen=True, slots=True)
class PointsDebited:
    event_type: ClassVar[str] = "points_debited"
    program_id: str
    account_id: str
    tx_id: str
    amount: int
    draws: tuple[LotDraw, ...]
    source: Source
    reason: str
    actor: str
    occurred_at: datetime
    adjustment: bool = False


@dataclass(frozen=True, slots=True)
class PointsHeld:
    event_type: ClassVar[str] = "points_held"
    program_id: str
    account_id: str
    hold_id: str
    amount: int
    expires_at: datetime
    source: Source
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class HoldCaptured:
    event_type: ClassVar[str] = "hold_captured"
    program_id: str
    account_id: str
    hold_id: str
    tx_id: str
    amount: int
    released_amount: int  # a partial capture releases the rest
    source: Source
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class HoldReleased:
    event_type: ClassVar[str] = "hold_released"
    program_id: str
    account_id: str
    hold_id: str
    amount: int
    expired_amount: int  # of `amount`, points whose lots had expired meanwhile
    timed_out: bool
    source: Source
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PointsExpired:
    event_type: ClassVar[str] = "points_expired"
    program_id: str
    account_id: str
    tx_id: str
    amount: int
    by_kind: tuple[tuple[str, int], ...]
    lots: tuple[LotDraw, ...]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionReversed:
    event_type: ClassVar[str] = "transaction_reversed"
    program_id: str
    account_id: str
    tx_id: str
    original_tx_id: str
    original_type: TxType
    amount: int  # of the original, how much this reversal covers
    restored: int  # spent points given back to their lots
    clawed_back: int  # earned points taken back
    expired: int  # restored points whose lots had expired, expired at once
    shortfall: int  # clawback points the member no longer had (balance stops at zero)
    not_clawed_expired: int  # earned points that had expired, so nothing to take back
    sponsor_funded: bool
    source: Source
    reason: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PointsTransferred:
    event_type: ClassVar[str] = "points_transferred"
    program_id: str
    from_account_id: str
    to_account_id: str
    tx_id: str
    amount: int
    source: Source
    reason: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AccountsMerged:
    event_type: ClassVar[str] = "accounts_merged"
    program_id: str
    survivor_account_id: str
    absorbed_account_id: str
    tx_id: str
    moved_available: int
    moved_held: int
    moved_lot_ids: tuple[str, ...]
    moved_hold_ids: tuple[str, ...]
    reason: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TierChanged:
    event_type: ClassVar[str] = "tier_changed"
    program_id: str
    account_id: str
    old_tier_id: str
    new_tier_id: str
    qualifying_points: int
    manual: bool
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class PointsExpiringSoon:
    """A reminder: spendable points of one account expire at `expires_at` (within N days)."""

    event_type: ClassVar[str] = "points_expiring_soon"
    program_id: str
    account_id: str
    amount: int
    expires_at: datetime
    by_kind: tuple[tuple[str, int], ...]
    within_days: int
    lot_ids: tuple[str, ...]


LedgerEvent = (
    PointsCredited
    | PointsDebited
    | PointsHeld
    | HoldCaptured
    | HoldReleased
    | PointsExpired
    | TransactionReversed
    | PointsTransferred
    | AccountsMerged
)
