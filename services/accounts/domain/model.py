"""Ledger entities: accounts, lots, holds, postings and journal transactions.

All are frozen: a plan returns new states instead of mutating, so a plan that fails halfway
leaves nothing half-changed. Points are `int` (int64 in storage), never float. Datetimes are
timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from runtime.ids import uuid7

# Far below int64's 9.2e18, so sums of many maximal amounts still fit in a BIGINT column.
MAX_POINTS = 10**12
NORMAL_KIND = "normal"

NewId = Callable[[], str]


def new_uuid() -> str:
    """A new transaction's, lot's or hold's id: time-ordered, so the ledger's indexes grow at
    their right edge (`runtime.ids`)."""
    return str(uuid7())


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # may receive points, may not spend them
    CLOSED = "closed"
    MERGED = "merged"  # absorbed into another account (`merged_into`)


class SystemAccount(StrEnum):
    """Per-program counter-accounts: where points come from and where they go."""

    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTMENTS = "adjustments"


class AccountRef(NamedTuple):
    """The account a posting hits: `("member", account_id)` or `("system", "issued")`."""

    type: Literal["member", "system"]
    id: str


def member_ref(account_id: str) -> AccountRef:
    return AccountRef("member", account_id)


def system_ref(account: SystemAccount) -> AccountRef:
    return AccountRef("system", account.value)


@dataclass(frozen=True, slots=True)
class Posting:
    account: AccountRef
    amount: int  # positive: the account gains points; negative: it gives them


@dataclass(frozen=True, slots=True)
class LotDraw:
    """Points taken from (or, in a hold, reserved on) one lot."""

    lot_id: str
    amount: int


class SourceType(StrEnum):
    CRITERION = "criterion"  # a grant criterion in earn
    RULE = "rule"  # an earn rule or campaign
    ORDER = "order"  # a redeem order
    IMPORT_ROW = "import_row"
    ADMIN = "admin"
    THANKS = "thanks"  # a member-to-member thanks message
    SYSTEM = "system"  # the ledger itself: expiry sweeps, hold timeouts, merges


@dataclass(frozen=True, slots=True)
class Source:
    """Where a movement comes from, so support can explain every balance."""

    type: SourceType
    id: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    """A member's point account. `available` and `held` are cached balances for fast reads.

    `available == sum(lot.remaining) - deficit`; `deficit` is points owed after a clawback the
    program allowed to go negative, repaid from the next points that arrive.
    """

    account_id: str
    program_id: str
    status: AccountStatus = AccountStatus.ACTIVE
    available: int = 0
    held: int = 0
    deficit: int = 0
    merged_into: str | None = None

    def with_balances(
        self, *, available: int | None = None, held: int | None = None, deficit: int | None = None
    ) -> Account:
        # A direct constructor call: dataclasses.replace is several times slower, and this runs
        # once per entry in batch credits and expiry sweeps.
        return Account(
            self.account_id,
            self.program_id,
            self.status,
            self.available if available is None else available,
            self.held if held is None else held,
            self.deficit if deficit is None else deficit,
            self.merged_into,
        )


@dataclass(frozen=True, slots=True)
class Lot:
    """Points from one credit. `remaining` excludes what open holds reserve on the lot."""

    lot_id: str
    account_id: str
    kind: str
    amount: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None  # None: never expires
    expired_amount: int = 0
    source_tx_id: str = ""

    def with_points(
        self, *, remaining: int | None = None, expired_amount: int | None = None
    ) -> Lot:
        return Lot(
            self.lot_id,
            self.account_id,
            self.kind,
            self.amount,
            self.remaining if remaining is None else remaining,
            self.earned_at,
            self.expires_at,
            self.expired_amount if expired_amount is None else expired_amount,
            self.source_tx_id,
        )

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_spendable(self, now: datetime) -> bool:
        return self.remaining > 0 and not self.is_expired(now)


class HoldStatus(StrEnum):
    OPEN = "open"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"  # released by itself after its time to live

    @property
    def is_terminal(self) -> bool:
        return self is not HoldStatus.OPEN


@dataclass(frozen=True, slots=True)
class Hold:
    """Points reserved on specific lots for a pending order; settles exactly once."""

    hold_id: str
    account_id: str
    program_id: str
    amount: int
    allocations: tuple[LotDraw, ...]
    created_at: datetime
    expires_at: datetime  # when it is released by itself if still open
    source: Source
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""
    status: HoldStatus = HoldStatus.OPEN
    settled_at: datetime | None = None
    captured_amount: int = 0
    settle_tx_id: str | None = None  # the capture (or release-expiry) transaction


class TxType(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    CAPTURE = "capture"
    ADJUSTMENT_CREDIT = "adjustment_credit"
    ADJUSTMENT_DEBIT = "adjustment_debit"
    TRANSFER = "transfer"
    REVERSAL = "reversal"
    EXPIRY = "expiry"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One journal transaction: its postings sum to zero.

    `amount` is the size of the movement (credited, spent, transferred, reversed, expired);
    the postings say exactly where it went. `spent` records which lots a spend drew from, so a
    reversal restores exactly those; `expired` records which lots expired in it.
    """

    tx_id: str
    program_id: str
    type: TxType
    account_id: str
    amount: int
    postings: tuple[Posting, ...]
    occurred_at: datetime
    source: Source
    reason: str = ""
    actor: str = ""
    idempotency_key: str = ""
    kind: str | None = None
    sponsor_funded: bool = False
    spent: tuple[LotDraw, ...] = ()
    expired: tuple[LotDraw, ...] = ()
    created_lot_ids: tuple[str, ...] = ()
    counterparty_account_id: str | None = None  # transfer receiver, merge's absorbed account
    hold_id: str | None = None
    reverses_tx_id: str | None = None
    reversed_amount: int = 0  # of this transaction's amount, how much reversals have covered
    shortfall: int = 0  # a clawback that stopped at zero: points it could not take back
