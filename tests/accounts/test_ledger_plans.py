"""Table tests for each ledger plan: what it changes, what it records, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TamaruError
from services.accounts.domain.balances import balance_of, expiring_within
from services.accounts.domain.commands import (
    AdjustPoints,
    CaptureHold,
    Credit,
    Debit,
    ManualTierMode,
    MergeAccounts,
    PlaceHold,
    ReleaseHold,
    Reverse,
    SetManualTier,
    Transfer,
)
from services.accounts.domain.crediting import plan_credit
from services.accounts.domain.events import (
    HoldCaptured,
    HoldReleased,
    PointsCredited,
    PointsExpired,
    TransactionReversed,
)
from services.accounts.domain.expiry_policy import ExpiryPolicy, ExpiryRule
from services.accounts.domain.ledger import Ledger
from services.accounts.domain.model import (
    Account,
    AccountStatus,
    HoldStatus,
    Lot,
    LotDraw,
    Posting,
    Source,
    SourceType,
    SystemAccount,
    TxType,
    member_ref,
    system_ref,
)
from services.accounts.domain.policy import LedgerPolicy
from services.accounts.domain.spending import plan_debit, spend_order
from services.accounts.domain.tiers import (
    Earning,
    ManualTier,
    Tier,
    TierBasis,
    TierPolicy,
    compute_tier,
    plan_manual_tier,
    tier_change,
)

T0 = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
ORDER = Source(SourceType.ORDER, "order-1")
RULE = Source(SourceType.RULE, "rule-1")
ADMIN = Source(SourceType.ADMIN, "admin-1")
POLICY = LedgerPolicy(
    time_zone="Asia/Tokyo",
    expiry={
        "normal": ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 12),
        "campaign": ExpiryPolicy(ExpiryRule.FIXED_DATE, fixed_date=date(2026, 2, 28)),
        "short": ExpiryPolicy(ExpiryRule.DAYS_AFTER, 3),
        "forever": ExpiryPolicy(ExpiryRule.NEVER),
    },
)


def credit(account_id: str, amount: int, kind: str = "normal", **kw: Any) -> Credit:
    return Credit(account_id, amount, RULE, kind=kind, reason="purchase", **kw)


def debit(account_id: str, amount: int) -> Debit:
    return Debit(account_id, amount, ORDER, reason="order")


def hold(account_id: str, amount: int, ttl: timedelta = timedelta(minutes=15)) -> PlaceHold:
    return PlaceHold(account_id, amount, ORDER, ttl)


def reverse(tx_id: str, amount: int | None = None) -> Reverse:
    return Reverse(tx_id, "returned", ORDER, amount=amount)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    book = Ledger("p1", POLICY)
    book.open_account("a")
    book.open_account("b")
    yield book
    assert book.check_invariants() == []


def lot(lot_id: str, remaining: int, expires: datetime | None, earned: datetime = T0) -> Lot:
    return Lot(lot_id, "a", "normal", remaining, remaining, earned, expires)


def error_of(exc: pytest.ExceptionInfo[TamaruError]) -> tuple[type, str, str]:
    return type(exc.value), exc.value.reason, exc.value.field


# -- credit -----------------------------------------------------------------------------


def test_credit_creates_a_lot_expiring_by_the_program_policy(ledger: Ledger) -> None:
    plan = ledger.credit(credit("a", 120, sponsor_funded=True), T0)
    (new_lot,) = plan.new_lots
    # Earned 2026-01-10 in Tokyo; end of the month 12 months later is 2027-01-31 (local).
    assert new_lot.expires_at == datetime(2027, 1, 31, 15, tzinfo=UTC)
    assert (new_lot.amount, new_lot.remaining, new_lot.kind) == (120, 120, "normal")
    assert plan.transaction.postings == (
        Posting(member_ref("a"), 120),
        Posting(system_ref(SystemAccount.ISSUED), -120),
    )
    assert plan.transaction.type is TxType.CREDIT
    (event,) = plan.events
    assert isinstance(event, PointsCredited)
    assert (event.amount, event.sponsor_funded, event.lot_id) == (120, True, new_lot.lot_id)
    assert ledger.account("a").available == 120


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (credit("a", 0), (InvalidArgument, "INVALID_ARGUMENT", "amount")),
        (credit("a", -5), (InvalidArgument, "INVALID_ARGUMENT", "amount")),
        (credit("a", 10**12 + 1), (InvalidArgument, "INVALID_ARGUMENT", "amount")),
        (credit("a", 1.5), (InvalidArgument, "INVALID_ARGUMENT", "amount")),  # type: ignore[arg-type]
        (credit("a", True), (InvalidArgument, "INVALID_ARGUMENT", "amount")),
        (credit("a", 5, kind="winter"), (InvalidArgument, "UNKNOWN_POINT_KIND", "kind")),
        (
            Credit("a", 5, Source(SourceType.CRITERION)),
            (InvalidArgument, "INVALID_ARGUMENT", "source.id"),
        ),
        (
            credit("a", 5, earned_at=T0 + timedelta(hours=1)),
            (InvalidArgument, "INVALID_ARGUMENT", "earned_at"),
        ),
        (
            credit("a", 5, earned_at=T0 - timedelta(days=400)),
            (FailedPrecondition, "POINTS_ALREADY_EXPIRED", "earned_at"),
        ),
        (credit("closed", 5), (FailedPrecondition, "ACCOUNT_CLOSED", "account_id")),
        (credit("merged", 5), (FailedPrecondition, "ACCOUNT_MERGED", "account_id")),
    ],
)
def test_credit_refuses(cmd: Credit, expected: tuple[type, str, str]) -> None:
    accounts = {
        "a": Account("a", "p1"),
        "closed": Account("closed", "p1", AccountStatus.CLOSED),
        "merged": Account("merged", "p1", AccountStatus.MERGED, merged_into="a"),
    }
    with pytest.raises(TamaruError) as exc:
        plan_credit(cmd, accounts[cmd.account_id], POLICY, T0)
    assert error_of(exc) == expected


def test_credit_of_a_campaign_kind_after_its_date_is_refused() -> None:
    late = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(FailedPrecondition) as exc:
        plan_credit(credit("a", 5, kind="campaign"), Account("a", "p1"), POLICY, late)
    assert (exc.value.reason, exc.value.field) == ("POINTS_ALREADY_EXPIRED", "kind")


def test_suspended_account_still_earns(ledger: Ledger) -> None:
    ledger.set_status("a", AccountStatus.SUSPENDED)
    ledger.credit(credit("a", 10), T0)
    assert ledger.account("a").available == 10
    with pytest.raises(FailedPrecondition) as exc:
        ledger.debit(debit("a", 1), T0)
    assert exc.value.reason == "ACCOUNT_SUSPENDED"


def test_batch_credit_accepts_good_entries_and_names_bad_ones(ledger: Ledger) -> None:
    batch = ledger.batch_credit(
        [credit("a", 10), credit("a", 0), credit("nobody", 5), credit("a", 7), credit("b", 3)],
        T0,
    )
    assert batch.accepted == (0, 3, 4)
    assert [(r.index, r.error.field) for r in batch.rejected] == [
        (1, "entries[1].amount"),
        (2, "entries[2].account_id"),
    ]
    assert isinstance(batch.rejected[1].error, NotFound)
    assert len(batch.plan.transactions) == 3  # one per entry, each reversible alone
    assert ledger.account("a").available == 17
    assert ledger.account("b").available == 3


# -- debit ------------------------------------------------------------------------------


def test_spend_order_is_soonest_expiry_then_earned_at_then_lot_id() -> None:
    soon = T0 + timedelta(days=10)
    later = T0 + timedelta(days=20)
    lots = [
        lot("never", 5, None),
        lot("z-later", 5, later),
        lot("b-soon", 5, soon, earned=T0),
        lot("a-soon", 5, soon, earned=T0),
        lot("c-soon-earlier", 5, soon, earned=T0 - timedelta(days=1)),
        lot("expired", 5, T0 - timedelta(seconds=1)),  # due but not swept: not spendable
        lot("empty", 0, soon),
    ]
    order = [x.lot_id for x in spend_order(lots, T0)]
    assert order == ["c-soon-earlier", "a-soon", "b-soon", "z-later", "never"]


def test_debit_records_the_lots_it_drew_from() -> None:
    lots = [lot("never", 50, None), lot("soon", 30, T0 + timedelta(days=1))]
    account = Account("a", "p1", available=80)
    plan = plan_debit(debit("a", 40), account, lots, T0)
    assert plan.transaction.spent == (LotDraw("soon", 30), LotDraw("never", 10))
    assert plan.transaction.postings == (
        Posting(member_ref("a"), -40),
        Posting(system_ref(SystemAccount.REDEEMED), 40),
    )
    assert {x.lot_id: x.remaining for x in plan.lot_updates} == {"soon": 0, "never": 40}
    assert plan.account_updates[0].available == 40


@pytest.mark.parametrize(
    ("amount", "status", "expected"),
    [
        (81, AccountStatus.ACTIVE, (FailedPrecondition, "INSUFFICIENT_POINTS", "amount")),
        (0, AccountStatus.ACTIVE, (InvalidArgument, "INVALID_ARGUMENT", "amount")),
        (10, AccountStatus.SUSPENDED, (FailedPrecondition, "ACCOUNT_SUSPENDED", "account_id")),
        (10, AccountStatus.CLOSED, (FailedPrecondition, "ACCOUNT_CLOSED", "account_id")),
    ],
)
def test_debit_refuses(amount: int, status: AccountStatus, expected: tuple[type, str, str]) -> None:
    lots = [lot("x", 80, None), lot("gone", 50, T0)]  # "gone" expires exactly now
    with pytest.raises(TamaruError) as exc:
        plan_debit(debit("a", amount), Account("a", "p1", status, available=130), lots, T0)
    assert error_of(exc) == expected


# -- holds ------------------------------------------------------------------------------


def test_hold_takes_lots_out_of_available(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    plan = ledger.place_hold(hold("a", 60), T0)
    assert plan.hold.allocations == (LotDraw(plan.hold.allocations[0].lot_id, 60),)
    assert plan.transactions == ()  # a hold moves nothing in the journal yet
    assert (ledger.account("a").available, ledger.account("a").held) == (40, 60)
    with pytest.raises(FailedPrecondition) as exc:
        ledger.debit(debit("a", 41), T0)
    assert exc.value.reason == "INSUFFICIENT_POINTS"


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (hold("a", 10, timedelta(0)), (InvalidArgument, "INVALID_ARGUMENT", "ttl")),
        (hold("a", 10, timedelta(days=32)), (InvalidArgument, "INVALID_ARGUMENT", "ttl")),
        (hold("a", 101), (FailedPrecondition, "INSUFFICIENT_POINTS", "amount")),
        (hold("a", -1), (InvalidArgument, "INVALID_ARGUMENT", "amount")),
    ],
)
def test_hold_refuses(ledger: Ledger, cmd: PlaceHold, expected: tuple[type, str, str]) -> None:
    ledger.credit(credit("a", 100), T0)
    with pytest.raises(TamaruError) as exc:
        ledger.place_hold(cmd, T0)
    assert error_of(exc) == expected


def test_capture_spends_the_held_lots(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    held = ledger.place_hold(hold("a", 60), T0).hold
    plan = ledger.capture(CaptureHold(held.hold_id), T0 + timedelta(minutes=1))
    assert plan.transaction.type is TxType.CAPTURE
    assert plan.transaction.spent == held.allocations
    assert ledger.hold(held.hold_id).status is HoldStatus.CAPTURED
    assert (ledger.account("a").available, ledger.account("a").held) == (40, 0)
    assert isinstance(plan.events[0], HoldCaptured)


def test_partial_capture_releases_the_rest(ledger: Ledger) -> None:
    ledger.credit(credit("a", 30, kind="short"), T0)
    ledger.credit(credit("a", 70), T0)
    held = ledger.place_hold(hold("a", 50), T0).hold
    plan = ledger.capture(CaptureHold(held.hold_id, amount=35), T0)
    # Captured from the soonest-expiring lot first.
    short_lot = held.allocations[0].lot_id
    assert plan.transaction.spent[0] == LotDraw(short_lot, 30)
    assert sum(d.amount for d in plan.transaction.spent) == 35
    assert (ledger.account("a").available, ledger.account("a").held) == (65, 0)
    event = plan.events[0]
    assert isinstance(event, HoldCaptured)
    assert event.released_amount == 15


def test_hold_settles_exactly_once(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    held = ledger.place_hold(hold("a", 60), T0).hold
    ledger.release(ReleaseHold(held.hold_id), T0)
    with pytest.raises(FailedPrecondition) as again:
        ledger.release(ReleaseHold(held.hold_id), T0)
    assert (again.value.reason, again.value.field) == ("HOLD_ALREADY_SETTLED", "hold_id")
    with pytest.raises(FailedPrecondition) as late:
        ledger.capture(CaptureHold(held.hold_id), T0)
    assert (late.value.reason, late.value.field) == ("HOLD_ALREADY_SETTLED", "hold_id")
    assert ledger.account("a").available == 100


def test_ledger_refuses_a_stale_plan_for_a_settled_hold(ledger: Ledger) -> None:
    # Two settlements planned concurrently: the second write must lose.
    ledger.credit(credit("a", 100), T0)
    held = ledger.place_hold(hold("a", 60), T0).hold
    from services.accounts.domain.holds import plan_capture, plan_release

    account = ledger.account("a")
    lots = [ledger.lots[x.lot_id] for x in held.allocations]
    capture = plan_capture(CaptureHold(held.hold_id), held, account, lots, T0, ledger.new_id)
    release = plan_release(ReleaseHold(held.hold_id), held, account, lots, T0, ledger.new_id)
    ledger.apply(release)
    with pytest.raises(FailedPrecondition) as exc:
        ledger.apply(capture)
    assert exc.value.reason == "HOLD_ALREADY_SETTLED"


def test_capture_after_the_hold_timed_out_is_refused(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    held = ledger.place_hold(hold("a", 60, timedelta(minutes=5)), T0).hold
    with pytest.raises(FailedPrecondition) as exc:
        ledger.capture(CaptureHold(held.hold_id), T0 + timedelta(minutes=5))
    assert exc.value.reason == "HOLD_EXPIRED"
    with pytest.raises(InvalidArgument) as exc2:
        ledger.capture(CaptureHold(held.hold_id, amount=61), T0)
    assert exc2.value.reason == "AMOUNT_EXCEEDS_HOLD"


def test_timed_out_hold_releases_itself_only_when_due(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    ledger.place_hold(hold("a", 60, timedelta(minutes=5)), T0)
    assert ledger.release_timed_out_holds(T0 + timedelta(minutes=4)).hold_updates == ()
    plan = ledger.release_timed_out_holds(T0 + timedelta(minutes=5))
    assert plan.hold.status is HoldStatus.EXPIRED
    event = plan.events[0]
    assert isinstance(event, HoldReleased)
    assert event.timed_out
    assert ledger.account("a").available == 100


def test_release_after_the_lot_expired_expires_the_points_at_once(ledger: Ledger) -> None:
    ledger.credit(credit("a", 40, kind="short"), T0)  # last day Jan 13 (Tokyo)
    ledger.credit(credit("a", 100), T0)
    held = ledger.place_hold(hold("a", 50, timedelta(days=10)), T0).hold
    later = T0 + timedelta(days=5)
    ledger.expire_due(later)  # nothing remains on the short lot: all 40 are held
    plan = ledger.release(ReleaseHold(held.hold_id), later)
    released, expired = plan.events
    assert isinstance(released, HoldReleased)
    assert released.expired_amount == 40
    assert isinstance(expired, PointsExpired)
    assert expired.amount == 40
    assert plan.transaction.type is TxType.EXPIRY
    assert plan.transaction.postings == (
        Posting(member_ref("a"), -40),
        Posting(system_ref(SystemAccount.EXPIRED), 40),
    )
    short = ledger.lots[held.allocations[0].lot_id]
    assert (short.remaining, short.expired_amount) == (0, 40)
    assert (ledger.account("a").available, ledger.account("a").held) == (100, 0)


# -- reversal -----------------------------------------------------------------------------


def test_reversing_a_debit_restores_exactly_its_lots(ledger: Ledger) -> None:
    first = ledger.credit(credit("a", 30, kind="short"), T0).new_lots[0]
    second = ledger.credit(credit("a", 50), T0).new_lots[0]
    spend = ledger.debit(debit("a", 60), T0).transaction
    ledger.credit(credit("a", 10), T0)  # a later lot must not receive restored points
    plan = ledger.reverse(reverse(spend.tx_id), T0)
    assert {x.lot_id: x.remaining for x in plan.lot_updates} == {
        first.lot_id: 30,
        second.lot_id: 50,
    }
    assert plan.transaction.postings == (
        Posting(member_ref("a"), 60),
        Posting(system_ref(SystemAccount.REDEEMED), -60),
    )
    assert ledger.transactions[spend.tx_id].reversed_amount == 60
    with pytest.raises(FailedPrecondition) as exc:
        ledger.reverse(reverse(spend.tx_id), T0)
    assert exc.value.reason == "ALREADY_REVERSED"


def test_partial_reversals_restore_latest_expiring_draws_first(ledger: Ledger) -> None:
    short = ledger.credit(credit("a", 30, kind="short"), T0).new_lots[0]
    normal = ledger.credit(credit("a", 50), T0).new_lots[0]
    spend = ledger.debit(debit("a", 60), T0).transaction
    assert spend.spent == (LotDraw(short.lot_id, 30), LotDraw(normal.lot_id, 30))
    ledger.reverse(reverse(spend.tx_id, 40), T0)
    assert (ledger.lots[normal.lot_id].remaining, ledger.lots[short.lot_id].remaining) == (50, 10)
    with pytest.raises(InvalidArgument) as exc:
        ledger.reverse(reverse(spend.tx_id, 21), T0)
    assert exc.value.reason == "AMOUNT_EXCEEDS_REVERSIBLE"
    ledger.reverse(reverse(spend.tx_id, 20), T0)
    assert ledger.lots[short.lot_id].remaining == 30


def test_restoring_to_an_expired_lot_expires_it_at_once(ledger: Ledger) -> None:
    short = ledger.credit(credit("a", 30, kind="short"), T0).new_lots[0]
    spend = ledger.debit(debit("a", 30), T0).transaction
    plan = ledger.reverse(reverse(spend.tx_id), T0 + timedelta(days=10))
    reversed_event = plan.events[0]
    assert isinstance(reversed_event, TransactionReversed)
    assert (reversed_event.restored, reversed_event.expired) == (30, 30)
    assert [tx.type for tx in plan.transactions] == [TxType.REVERSAL, TxType.EXPIRY]
    assert ledger.lots[short.lot_id].expired_amount == 30
    assert ledger.account("a").available == 0


def test_clawback_takes_back_unspent_earned_points(ledger: Ledger) -> None:
    earned = ledger.credit(credit("a", 100, sponsor_funded=True), T0).transaction
    plan = ledger.reverse(reverse(earned.tx_id), T0)
    assert plan.transaction.postings == (
        Posting(member_ref("a"), -100),
        Posting(system_ref(SystemAccount.ISSUED), 100),
    )
    event = plan.events[0]
    assert isinstance(event, TransactionReversed)
    assert (event.clawed_back, event.shortfall, event.sponsor_funded) == (100, 0, True)
    assert ledger.account("a").available == 0


def test_clawback_stops_at_zero_and_records_the_shortfall(ledger: Ledger) -> None:
    earned = ledger.credit(credit("a", 100), T0).transaction
    ledger.credit(credit("a", 20), T0)
    ledger.debit(debit("a", 90), T0)
    plan = ledger.reverse(reverse(earned.tx_id), T0)
    assert (plan.transaction.shortfall, ledger.account("a").available) == (70, 0)
    event = plan.events[0]
    assert isinstance(event, TransactionReversed)
    assert event.clawed_back == 30


def test_clawback_may_go_negative_and_the_next_credit_repays_it() -> None:
    book = Ledger("p1", LedgerPolicy(allow_negative_balance=True))
    book.open_account("a")
    earned = book.credit(credit("a", 100), T0).transaction
    book.debit(debit("a", 90), T0)
    book.reverse(reverse(earned.tx_id), T0)
    assert (book.account("a").available, book.account("a").deficit) == (-90, 90)
    plan = book.credit(credit("a", 200), T0)
    event = plan.events[0]
    assert isinstance(event, PointsCredited)
    assert event.deficit_repaid == 90
    assert plan.new_lots[0].remaining == 110
    assert (book.account("a").available, book.account("a").deficit) == (110, 0)
    assert book.check_invariants() == []


def test_clawback_skips_points_that_already_expired(ledger: Ledger) -> None:
    earned = ledger.credit(credit("a", 40, kind="short"), T0).transaction
    ledger.credit(credit("a", 100), T0)
    later = T0 + timedelta(days=10)
    ledger.expire_due(later)
    plan = ledger.reverse(reverse(earned.tx_id), later)
    event = plan.events[0]
    assert isinstance(event, TransactionReversed)
    assert (event.clawed_back, event.not_clawed_expired) == (0, 40)
    assert plan.transaction.postings == ()
    assert ledger.account("a").available == 100


@pytest.mark.parametrize(
    "make",
    [
        lambda book: book.expire_due(T0 + timedelta(days=10)).transaction,
        lambda book: book.transfer(Transfer("a", "b", 5, ORDER), T0).transaction,
    ],
)
def test_expiry_and_transfer_are_not_reversible(ledger: Ledger, make: Any) -> None:
    ledger.credit(credit("a", 10, kind="short"), T0)
    tx = make(ledger)
    with pytest.raises(FailedPrecondition) as exc:
        ledger.reverse(reverse(tx.tx_id), T0 + timedelta(days=10))
    assert (exc.value.reason, exc.value.field) == ("NOT_REVERSIBLE", "tx_id")


def test_reversal_needs_a_reason(ledger: Ledger) -> None:
    tx = ledger.credit(credit("a", 10), T0).transaction
    with pytest.raises(InvalidArgument) as exc:
        ledger.reverse(Reverse(tx.tx_id, " ", ORDER), T0)
    assert exc.value.field == "reason"


# -- transfer, adjustment -----------------------------------------------------------------


def test_transfer_keeps_kind_and_expiry(ledger: Ledger) -> None:
    short = ledger.credit(credit("a", 30, kind="short"), T0).new_lots[0]
    normal = ledger.credit(credit("a", 50), T0).new_lots[0]
    plan = ledger.transfer(Transfer("a", "b", 40, Source(SourceType.THANKS, "t1")), T0)
    got = {(x.kind, x.expires_at, x.amount) for x in plan.new_lots}
    assert got == {("short", short.expires_at, 30), ("normal", normal.expires_at, 10)}
    assert plan.transaction.postings == (
        Posting(member_ref("a"), -40),
        Posting(member_ref("b"), 40),
    )
    assert (ledger.account("a").available, ledger.account("b").available) == (40, 40)


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (Transfer("a", "a", 5, ORDER), (InvalidArgument, "SAME_ACCOUNT", "to_account_id")),
        (Transfer("a", "b", 11, ORDER), (FailedPrecondition, "INSUFFICIENT_POINTS", "amount")),
        (Transfer("a", "closed", 5, ORDER), (FailedPrecondition, "ACCOUNT_CLOSED", "account_id")),
    ],
)
def test_transfer_refuses(ledger: Ledger, cmd: Transfer, expected: tuple[type, str, str]) -> None:
    ledger.open_account("closed", AccountStatus.CLOSED)
    ledger.credit(credit("a", 10), T0)
    with pytest.raises(TamaruError) as exc:
        ledger.transfer(cmd, T0)
    assert error_of(exc) == expected


def test_adjustments_move_points_against_the_adjustments_account(ledger: Ledger) -> None:
    plus = ledger.adjust(AdjustPoints("a", 50, "goodwill", "admin@x", ADMIN), T0)
    assert plus.transaction.type is TxType.ADJUSTMENT_CREDIT
    assert plus.transaction.postings[1] == Posting(system_ref(SystemAccount.ADJUSTMENTS), -50)
    minus = ledger.adjust(AdjustPoints("a", -20, "duplicate grant", "admin@x", ADMIN), T0)
    assert minus.transaction.type is TxType.ADJUSTMENT_DEBIT
    assert minus.transaction.postings[1] == Posting(system_ref(SystemAccount.ADJUSTMENTS), 20)
    assert ledger.account("a").available == 30
    for cmd, field in [
        (AdjustPoints("a", 0, "x", "admin@x", ADMIN), "delta"),
        (AdjustPoints("a", 5, "", "admin@x", ADMIN), "reason"),
        (AdjustPoints("a", 5, "x", "", ADMIN), "actor"),
    ]:
        with pytest.raises(InvalidArgument) as exc:
            ledger.adjust(cmd, T0)
        assert exc.value.field == field
    with pytest.raises(FailedPrecondition) as exc2:
        ledger.adjust(AdjustPoints("a", -31, "x", "admin@x", ADMIN), T0)
    assert exc2.value.reason == "INSUFFICIENT_POINTS"


# -- merge --------------------------------------------------------------------------------


def test_merge_moves_lots_holds_and_balance(ledger: Ledger) -> None:
    ledger.credit(credit("a", 100), T0)
    ledger.credit(credit("b", 40), T0)
    held = ledger.place_hold(hold("b", 15), T0).hold
    plan = ledger.merge(MergeAccounts("a", "b", reason="same person"), T0)
    assert plan.transaction.postings == (
        Posting(member_ref("b"), -40),
        Posting(member_ref("a"), 40),
    )
    assert all(x.account_id == "a" for x in ledger.lots.values())
    assert ledger.hold(held.hold_id).account_id == "a"
    survivor, absorbed = ledger.account("a"), ledger.account("b")
    assert (survivor.available, survivor.held) == (125, 15)
    assert (absorbed.status, absorbed.available, absorbed.merged_into) == (
        AccountStatus.MERGED,
        0,
        "a",
    )
    ledger.capture(CaptureHold(held.hold_id), T0)  # the moved hold still settles
    assert ledger.account("a").held == 0
    with pytest.raises(FailedPrecondition) as exc:
        ledger.credit(credit("b", 1), T0)
    assert exc.value.reason == "ACCOUNT_MERGED"
    with pytest.raises(InvalidArgument):
        ledger.merge(MergeAccounts("a", "a"), T0)


def test_merge_repays_a_deficit_from_the_other_side() -> None:
    book = Ledger("p1", LedgerPolicy(allow_negative_balance=True))
    book.open_account("a")
    book.open_account("b")
    earned = book.credit(credit("b", 50), T0).transaction
    book.debit(debit("b", 50), T0)
    book.reverse(reverse(earned.tx_id), T0)
    book.credit(credit("a", 80), T0)
    book.merge(MergeAccounts("a", "b"), T0)
    assert (book.account("a").available, book.account("a").deficit) == (30, 0)
    assert sum(x.remaining for x in book.lots.values()) == 30
    assert book.check_invariants() == []


# -- expiry, balance ----------------------------------------------------------------------


def test_expire_due_lots_one_transaction_per_account(ledger: Ledger) -> None:
    ledger.credit(credit("a", 10, kind="short"), T0)
    ledger.credit(credit("a", 20, kind="campaign"), T0)
    ledger.credit(credit("a", 5), T0)
    ledger.credit(credit("b", 7, kind="short"), T0)
    assert ledger.expire_due(T0 + timedelta(days=1)).transactions == ()
    plan = ledger.expire_due(datetime(2026, 3, 1, tzinfo=UTC))
    assert sorted((tx.account_id, tx.amount) for tx in plan.transactions) == [("a", 30), ("b", 7)]
    event_a = next(e for e in plan.events if isinstance(e, PointsExpired) and e.account_id == "a")
    assert event_a.by_kind == (("campaign", 20), ("short", 10))
    assert (ledger.account("a").available, ledger.account("b").available) == (5, 0)
    assert ledger.expire_due(datetime(2026, 3, 2, tzinfo=UTC)).transactions == ()


def test_balance_and_expiring_soon(ledger: Ledger) -> None:
    ledger.credit(credit("a", 10, kind="short"), T0)
    ledger.credit(credit("a", 20, kind="campaign"), T0)
    ledger.credit(credit("a", 5, kind="forever"), T0)
    ledger.place_hold(hold("a", 4), T0)
    balance = ledger.balance("a", T0)
    assert (balance.available, balance.held) == (31, 4)
    assert dict(balance.by_kind) == {"short": 6, "campaign": 20, "forever": 5}
    # Short points: earned Jan 10 (Tokyo), last day Jan 13, gone at Jan 14 00:00 JST.
    assert balance.next_expiry_at == datetime(2026, 1, 13, 15, tzinfo=UTC)
    assert balance.next_expiry_amount == 6
    soon = expiring_within(ledger.lots_of("a"), T0, 7)
    assert [(x.kind, x.amount) for x in soon] == [("short", 6)]
    assert [x.kind for x in expiring_within(ledger.lots_of("a"), T0, 60)] == ["short", "campaign"]
    # After the short lot's expiry, before any sweep: the view already leaves it out.
    assert balance_of(ledger.lots_of("a"), [], T0 + timedelta(days=5)).available == 25
    with pytest.raises(InvalidArgument) as exc:
        expiring_within(ledger.lots_of("a"), T0, 0)
    assert exc.value.field == "days"


# -- tiers --------------------------------------------------------------------------------

TIERS = TierPolicy(
    TierBasis.ROLLING_12_MONTHS,
    (Tier("gold", 5000), Tier("bronze", 0), Tier("silver", 1000)),
)


@pytest.mark.parametrize(
    ("basis", "earnings", "expected", "points"),
    [
        (TierBasis.ROLLING_12_MONTHS, [(datetime(2025, 6, 1, tzinfo=UTC), 1200)], "silver", 1200),
        # Outside the rolling window (before 2025-01-10 local): does not count.
        (TierBasis.ROLLING_12_MONTHS, [(datetime(2025, 1, 9, tzinfo=UTC), 9000)], "bronze", 0),
        # Calendar year starts 2026-01-01 in Tokyo (2025-12-31T15:00Z).
        (TierBasis.CALENDAR_YEAR, [(datetime(2025, 12, 31, 15, tzinfo=UTC), 6000)], "gold", 6000),
        (TierBasis.CALENDAR_YEAR, [(datetime(2025, 12, 31, 14, tzinfo=UTC), 6000)], "bronze", 0),
        # A clawback lowers the qualifying points.
        (
            TierBasis.CALENDAR_YEAR,
            [(datetime(2026, 1, 2, tzinfo=UTC), 1500), (datetime(2026, 1, 5, tzinfo=UTC), -600)],
            "bronze",
            900,
        ),
    ],
)
def test_tier_from_points_earned_in_the_window(
    basis: TierBasis, earnings: list[tuple[datetime, int]], expected: str, points: int
) -> None:
    policy = TierPolicy(basis, TIERS.tiers)
    decision = compute_tier(policy, [Earning(at, n) for at, n in earnings], T0, "Asia/Tokyo")
    assert (decision.tier_id, decision.qualifying_points) == (expected, points)


def test_tier_reports_the_next_tier() -> None:
    decision = compute_tier(TIERS, [Earning(T0, 1200)], T0, "UTC")
    assert (decision.next_tier_id, decision.points_to_next) == ("gold", 3800)


@pytest.mark.parametrize(
    ("manual", "expected", "by_manual"),
    [
        (ManualTier("gold", ManualTierMode.FLOOR), "gold", True),
        (ManualTier("bronze", ManualTierMode.FLOOR), "silver", False),  # floor below earned
        (ManualTier("bronze", ManualTierMode.OVERRIDE), "bronze", True),
        (ManualTier("gold", ManualTierMode.FLOOR, until=T0), "silver", False),  # lapsed
        (ManualTier("platinum", ManualTierMode.OVERRIDE), "silver", False),  # no longer exists
    ],
)
def test_manual_tier_as_floor_or_override(
    manual: ManualTier, expected: str, by_manual: bool
) -> None:
    decision = compute_tier(TIERS, [Earning(T0, 1200)], T0, "UTC", manual)
    assert (decision.tier_id, decision.manual) == (expected, by_manual)


def test_tier_change_event_only_when_the_tier_moves() -> None:
    account = Account("a", "p1")
    decision = compute_tier(TIERS, [Earning(T0, 1200)], T0, "UTC")
    assert tier_change(account, "silver", decision, T0) is None
    changed = tier_change(account, "bronze", decision, T0)
    assert changed is not None
    assert (changed.old_tier_id, changed.new_tier_id) == ("bronze", "silver")


def test_set_manual_tier_validates() -> None:
    cmd = SetManualTier("a", "gold", ManualTierMode.FLOOR, "VIP")
    assert plan_manual_tier(cmd, TIERS, T0) == ManualTier("gold", ManualTierMode.FLOOR)
    cleared = SetManualTier("a", "", ManualTierMode.FLOOR, "back to normal")
    assert plan_manual_tier(cleared, TIERS, T0) is None
    for bad, field in [
        (SetManualTier("a", "platinum", ManualTierMode.FLOOR, "x"), "tier_id"),
        (SetManualTier("a", "gold", ManualTierMode.FLOOR, ""), "reason"),
        (SetManualTier("a", "gold", ManualTierMode.FLOOR, "x", until=T0), "until"),
    ]:
        with pytest.raises(InvalidArgument) as exc:
            plan_manual_tier(bad, TIERS, T0)
        assert exc.value.field == field
