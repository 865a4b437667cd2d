"""The bank test's checker catches what it is meant to catch: a double write, a lost write, a
refusal that wrote anyway, a saga that moved points it should not, a hold past its time.

These feed the pure checking functions hand-made ledgers and histories; the short run in
test_bank.py drives the same functions from a real cluster.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from chaos.check_requests import LedgerIndex, exactly_once
from chaos.check_state import sagas, time_limits
from chaos.history import Op, Outcome
from chaos.ledger_reads import LedgerTx, OrderRow
from chaos.operations import grant
from chaos.stream_reads import subject_matches

PROGRAM = "bank0"
ALICE = "acct-alice"


def credit(tx_id: str, key: str, amount: int = 10) -> LedgerTx:
    return LedgerTx(tx_id, "credit", ALICE, amount, "admin", "", key, True, None)


def acked_grant(key: str, tx_id: str, outcome: Outcome = Outcome.OK) -> Op:
    request, members = grant(key, ALICE, 10)
    op = Op(0, 0, PROGRAM, "grant", key, request, members, started=0.0, outcome=outcome)
    op.tx_ids = (tx_id,) if outcome is Outcome.OK else ()
    return op


def check(ops: list[Op], txs: list[LedgerTx], history: Counter[str]) -> tuple[bool, bool, int]:
    acked, failed, lost = exactly_once(
        ops, {PROGRAM: LedgerIndex.of(txs)}, {PROGRAM: []}, {(PROGRAM, ALICE): history}
    )
    return acked.valid, failed.valid, lost


def test_an_acknowledged_grant_written_once_is_valid() -> None:
    assert check([acked_grant("k1", "t1")], [credit("t1", "k1")], Counter({"t1": 1})) == (
        True,
        True,
        0,
    )


def test_a_grant_written_twice_under_one_key_is_caught() -> None:
    txs = [credit("t1", "k1"), credit("t2", "k1")]
    acked_valid, _, _ = check([acked_grant("k1", "t1")], txs, Counter({"t1": 1, "t2": 1}))
    assert not acked_valid


def test_an_acknowledged_grant_missing_from_the_ledger_is_lost() -> None:
    acked_valid, _, lost = check([acked_grant("k1", "t1")], [], Counter())
    assert (acked_valid, lost) == (False, 1)


def test_a_transaction_missing_from_the_members_history_is_caught() -> None:
    acked_valid, _, _ = check([acked_grant("k1", "t1")], [credit("t1", "k1")], Counter())
    assert not acked_valid


def test_a_refused_request_that_wrote_anyway_is_caught() -> None:
    refused = acked_grant("k9", "", outcome=Outcome.FAIL)
    _, failed_valid, _ = check([refused], [credit("t9", "k9")], Counter({"t9": 1}))
    assert not failed_valid


def test_derived_earn_keys_are_found_by_the_clients_key() -> None:
    index = LedgerIndex.of([credit("t1", "earn:purchase:p-1:normal")])
    request, members = grant("p-1", ALICE, 10)
    op = Op(0, 0, PROGRAM, "purchase", "p-1", request, members, started=0.0)
    assert [t.tx_id for t in index.footprint(op)] == ["t1"]


def order(status: str, points_paid: int = 50) -> OrderRow:
    return OrderRow("o1", ALICE, status, "k-order", points_paid, "h1", "r1")


def saga_valid(row: OrderRow, member_effect: int, open_hold: bool = False) -> bool:
    capture = LedgerTx("c1", "capture", ALICE, 50, "order", "o1", "redeem:o1:capture", False, None)
    holds = {PROGRAM: [("h1", "o1", datetime.now(UTC))]} if open_hold else {}
    prop = sagas(
        {PROGRAM: [row]},
        {PROGRAM: LedgerIndex.of([capture])},
        {PROGRAM: {"c1": member_effect}},
        holds,
        {},
    )
    return prop.valid


def test_a_confirmed_order_that_spent_its_points_once_is_valid() -> None:
    assert saga_valid(order("confirmed"), -50)


def test_a_failed_order_whose_points_stayed_spent_is_caught() -> None:
    assert not saga_valid(order("failed"), -50)


def test_a_pending_order_or_a_leftover_hold_is_caught() -> None:
    assert not saga_valid(order("pending"), 0)
    assert not saga_valid(order("confirmed"), -50, open_hold=True)


def test_a_hold_open_long_past_its_ttl_is_caught() -> None:
    now = datetime.now(UTC)
    fresh = {PROGRAM: [("h1", "o1", now + timedelta(seconds=20))]}
    stale = {PROGRAM: [("h2", "o2", now - timedelta(minutes=5))]}
    assert time_limits(fresh, {}, now).valid
    assert not time_limits(stale, {}, now).valid


def test_subject_filters_match_like_nats() -> None:
    assert subject_matches("tamaru.evt.*.accounts.>", "tamaru.evt.bank0.accounts.points_credited")
    assert not subject_matches("tamaru.evt.*.accounts.>", "tamaru.evt.bank0.earn.thanks_sent")
    assert not subject_matches("tamaru.evt.*.accounts.>", "tamaru.evt.bank0.accounts")
