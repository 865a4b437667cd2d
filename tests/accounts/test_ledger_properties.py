"""Property tests: any sequence of ledger operations keeps every invariant.

A hypothesis state machine drives the in-memory `Ledger` (the reference the SQL adapter is
held to) through credits, debits, holds, captures, releases, timeouts, reversals, transfers,
adjustments, merges, expiry sweeps and the passing of time, and after every step checks:
postings sum to zero per transaction and overall; each account's cached available equals its
lots' remaining less its deficit and its journal balance equals available + held; no lot goes
negative or above its amount; held equals the open holds; issued == balances + held +
redeemed + expired + adjustments; a settled hold never changes state again; and, unless the
program allows it, no balance is negative.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TamaruError
from services.accounts.domain.commands import (
    AdjustPoints,
    CaptureHold,
    Credit,
    Debit,
    MergeAccounts,
    PlaceHold,
    ReleaseHold,
    Reverse,
    Transfer,
)
from services.accounts.domain.events import HoldReleased, TransactionReversed
from services.accounts.domain.expiry_policy import ExpiryPolicy, ExpiryRule
from services.accounts.domain.ledger import Ledger
from services.accounts.domain.model import AccountStatus, HoldStatus, Source, SourceType, TxType
from services.accounts.domain.policy import LedgerPolicy

T0 = datetime(2026, 1, 30, 14, 0, tzinfo=UTC)  # near a Tokyo month end and a short month
KINDS = ("normal", "short", "campaign", "forever", "monthly")
EXPIRY = {
    "normal": ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, 1),
    "short": ExpiryPolicy(ExpiryRule.DAYS_AFTER, 3),
    "campaign": ExpiryPolicy(ExpiryRule.FIXED_DATE, fixed_date=date(2026, 2, 28)),
    "forever": ExpiryPolicy(ExpiryRule.NEVER),
    "monthly": ExpiryPolicy(ExpiryRule.MONTHS_AFTER, 1),
}
SRC = Source(SourceType.ORDER, "o")
THANKS = Source(SourceType.THANKS, "t")
ADMIN = Source(SourceType.ADMIN)
SPENDS = frozenset({TxType.DEBIT, TxType.CAPTURE, TxType.ADJUSTMENT_DEBIT})
EARNS = frozenset({TxType.CREDIT, TxType.ADJUSTMENT_CREDIT})
EXPECTED_ERRORS = (InvalidArgument, FailedPrecondition, NotFound)

earn_amounts = st.integers(min_value=1, max_value=1000)
amounts = st.integers(min_value=1, max_value=300)
slots = st.integers(min_value=0, max_value=3)  # which of the four live accounts
picks = st.integers(min_value=0, max_value=10**6)


class LedgerMachine(RuleBasedStateMachine):
    book: Ledger
    now: datetime
    settled: dict[str, HoldStatus]
    live: list[str]  # four accounts; a merged one is replaced by a newly opened one

    @initialize(allow_negative=st.booleans())
    def start(self, allow_negative: bool) -> None:
        policy = LedgerPolicy(
            time_zone="Asia/Tokyo",
            expiry=EXPIRY,
            allow_negative_balance=allow_negative,
            max_hold_ttl=timedelta(days=10),
        )
        self.book = Ledger("p1", policy)
        self.live = ["a", "b", "c", "d"]
        for account_id in self.live:
            self.book.open_account(account_id)
        self.now = T0
        self.settled = {}
        self.opened = 0

    # -- helpers -----------------------------------------------------------------------------

    def attempt(self, operation: Callable[..., object], *args: object) -> bool:
        """Run an operation; a refusal must be a clean domain error that changed nothing."""
        before = self.snapshot()
        refused: TamaruError | None = None
        try:
            operation(*args)
        except TamaruError as exc:
            refused = exc
        if refused is None:
            event(f"{operation.__name__}: ok")
            return True
        assert isinstance(refused, EXPECTED_ERRORS), refused
        assert self.snapshot() == before, "a refused operation changed the ledger"
        event(f"{operation.__name__}: {refused.reason}")
        return False

    def snapshot(self) -> tuple[object, ...]:
        b = self.book
        return (dict(b.accounts), dict(b.lots), dict(b.holds), dict(b.transactions))

    def spendable(self, account_id: str) -> int:
        return self.book.balance(account_id, self.now).available

    def can_spend(self, account_id: str) -> bool:
        return self.book.account(account_id).status is AccountStatus.ACTIVE

    def id_of(self, slot: int) -> str:
        return self.live[slot]

    def pick(self, items: list[str], index: int) -> str:
        return sorted(items)[index % len(items)]

    # -- rules -------------------------------------------------------------------------------

    @rule(hours=st.integers(min_value=0, max_value=24 * 20))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours, minutes=7)

    @rule(slot=slots, amount=earn_amounts, kind=st.sampled_from(KINDS), funded=st.booleans())
    def credit(self, slot: int, amount: int, kind: str, funded: bool) -> None:
        account = self.id_of(slot)
        cmd = Credit(account, amount, SRC, kind=kind, sponsor_funded=funded)
        before = self.book.account(account).available
        if self.attempt(self.book.credit, cmd, self.now):
            assert self.book.account(account).available == before + amount

    @rule(entries=st.lists(st.tuples(slots, st.integers(-5, 300)), max_size=6))
    def batch_credit(self, entries: list[tuple[int, int]]) -> None:
        cmds = [Credit(self.id_of(slot), n, SRC) for slot, n in entries]
        before = {a: self.book.account(a).available for a in self.live}
        batch = self.book.batch_credit(cmds, self.now)
        assert batch.accepted == tuple(i for i, (_, n) in enumerate(entries) if n > 0)
        assert [r.error.field for r in batch.rejected] == [
            f"entries[{i}].amount" for i, (_, n) in enumerate(entries) if n <= 0
        ]
        for account, points in before.items():
            gained = sum(n for slot, n in entries if n > 0 and self.id_of(slot) == account)
            assert self.book.account(account).available == points + gained

    @rule(slot=slots, amount=amounts)
    def debit(self, slot: int, amount: int) -> None:
        account = self.id_of(slot)
        expect = self.can_spend(account) and amount <= self.spendable(account)
        before = self.book.account(account).available
        done = self.attempt(self.book.debit, Debit(account, amount, SRC), self.now)
        assert done == expect
        if done:
            assert self.book.account(account).available == before - amount

    @rule(slot=slots, amount=amounts, minutes=st.integers(1, 60 * 24 * 12))
    def place_hold(self, slot: int, amount: int, minutes: int) -> None:
        account = self.id_of(slot)
        expect = self.can_spend(account) and amount <= self.spendable(account) and minutes <= 14400
        cmd = PlaceHold(account, amount, SRC, timedelta(minutes=minutes))
        assert self.attempt(self.book.place_hold, cmd, self.now) == expect

    @precondition(lambda self: bool(self.book.holds))
    @rule(index=picks, part=st.none() | amounts)
    def capture(self, index: int, part: int | None) -> None:
        hold = self.book.holds[self.pick(list(self.book.holds), index)]
        expect = (
            hold.status is HoldStatus.OPEN
            and self.now < hold.expires_at
            and (part is None or part <= hold.amount)
        )
        done = self.attempt(self.book.capture, CaptureHold(hold.hold_id, part), self.now)
        assert done == expect

    @precondition(lambda self: bool(self.book.holds))
    @rule(index=picks)
    def release(self, index: int) -> None:
        hold = self.book.holds[self.pick(list(self.book.holds), index)]
        done = self.attempt(self.book.release, ReleaseHold(hold.hold_id), self.now)
        assert done == (hold.status is HoldStatus.OPEN)
        if done:
            self.note_expired_at_once(self.book.events[-1])

    @rule()
    def release_timed_out_holds(self) -> None:
        for e in self.book.release_timed_out_holds(self.now).events:
            self.note_expired_at_once(e)
        for hold in self.book.holds.values():
            assert not (hold.status is HoldStatus.OPEN and hold.expires_at <= self.now)

    def of_types(self, types: frozenset[TxType]) -> list[str]:
        return [t.tx_id for t in self.book.transactions.values() if t.type in types]

    @precondition(lambda self: bool(self.book.transactions))
    @rule(index=picks, part=st.none() | amounts)
    def reverse_any(self, index: int, part: int | None) -> None:
        self.reverse(self.pick(list(self.book.transactions), index), part)

    @precondition(lambda self: bool(self.of_types(SPENDS)))
    @rule(index=picks, part=st.none() | amounts)
    def cancel_spend(self, index: int, part: int | None) -> None:
        self.reverse(self.pick(self.of_types(SPENDS), index), part)

    @precondition(lambda self: bool(self.of_types(EARNS)))
    @rule(index=picks, part=st.none() | earn_amounts)
    def return_purchase(self, index: int, part: int | None) -> None:
        self.reverse(self.pick(self.of_types(EARNS), index), part)

    def reverse(self, tx_id: str, part: int | None) -> None:
        cmd = Reverse(tx_id, "returned", SRC, amount=part)
        if self.attempt(self.book.reverse, cmd, self.now):
            done = next(e for e in reversed(self.book.events) if isinstance(e, TransactionReversed))
            assert done.original_tx_id == tx_id
            for label, value in [
                ("restored", done.restored),
                ("clawed", done.clawed_back),
                ("expired at once", done.expired),
                ("shortfall", done.shortfall),
                ("not clawed: expired", done.not_clawed_expired),
                ("balance went negative", self.book.account(done.account_id).deficit),
            ]:
                if value:
                    event(f"reverse: {label}")

    @rule(sender=slots, receiver=slots, amount=amounts)
    def transfer(self, sender: int, receiver: int, amount: int) -> None:
        cmd = Transfer(self.id_of(sender), self.id_of(receiver), amount, THANKS)
        total = sum(a.available + a.held for a in self.book.accounts.values())
        self.attempt(self.book.transfer, cmd, self.now)
        assert sum(a.available + a.held for a in self.book.accounts.values()) == total

    @rule(slot=slots, delta=st.integers(-300, 300).filter(bool))
    def adjust(self, slot: int, delta: int) -> None:
        cmd = AdjustPoints(self.id_of(slot), delta, "correction", "admin", ADMIN)
        self.attempt(self.book.adjust, cmd, self.now)

    @rule(survivor=slots, absorbed=slots)
    def merge(self, survivor: int, absorbed: int) -> None:
        kept, gone = (
            self.book.account(self.id_of(survivor)),
            self.book.account(self.id_of(absorbed)),
        )
        if self.attempt(self.book.merge, MergeAccounts(kept.account_id, gone.account_id), self.now):
            merged = self.book.account(kept.account_id)
            # Nothing lost or counted twice.
            assert merged.available == kept.available + gone.available
            assert merged.held == kept.held + gone.held
            assert self.book.lots_of(gone.account_id) == []
            self.opened += 1
            self.live[absorbed] = f"n{self.opened}"
            self.book.open_account(self.live[absorbed])

    @rule()
    def expire(self) -> None:
        self.book.expire_due(self.now)
        for lot in self.book.lots.values():
            assert not (lot.is_expired(self.now) and lot.remaining > 0)

    @rule(slot=slots, suspended=st.booleans())
    def suspend(self, slot: int, suspended: bool) -> None:
        status = AccountStatus.SUSPENDED if suspended else AccountStatus.ACTIVE
        self.book.set_status(self.id_of(slot), status)

    def note_expired_at_once(self, e: object) -> None:
        if isinstance(e, HoldReleased) and e.expired_amount:
            event("release: held points expired at once")

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self) -> None:
        assert self.book.check_invariants() == []

    @invariant()
    def no_negative_balance_unless_allowed(self) -> None:
        if not self.book.policy.allow_negative_balance:
            for account in self.book.accounts.values():
                assert account.available >= 0
                assert account.deficit == 0

    @invariant()
    def a_deficit_is_repaid_before_points_are_spendable(self) -> None:
        for account in self.book.accounts.values():
            if account.deficit:
                lots = self.book.lots_of(account.account_id)
                assert not any(lot.is_spendable(self.now) for lot in lots)

    @invariant()
    def settled_holds_stay_settled(self) -> None:
        for hold in self.book.holds.values():
            if hold.hold_id in self.settled:
                assert hold.status is self.settled[hold.hold_id]
            elif hold.status.is_terminal:
                self.settled[hold.hold_id] = hold.status

    @invariant()
    def reversals_never_exceed_the_original(self) -> None:
        for tx in self.book.transactions.values():
            assert 0 <= tx.reversed_amount <= tx.amount


LedgerMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_ledger_keeps_its_invariants = LedgerMachine.TestCase
