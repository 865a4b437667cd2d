"""Which plans' statements PostgreSQL plans with their values (services/accounts/adapters/
ledger_writes.py): a prepared statement's generic plan guesses a few array elements, which
made a sweep batch's UPDATE of 5,000 lots compare every lot with every other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.accounts.adapters.ledger_writes import PLAN_WITH_VALUES_ABOVE, plan_writer
from services.accounts.domain.expiry import plan_expire
from services.accounts.domain.model import Account, Lot

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _expiry_writer(accounts: int, lots_per_account: int) -> bool | None:
    owners = {f"acc-{i}": Account(f"acc-{i}", "p", available=100) for i in range(accounts)}
    lots = [
        Lot(f"lot-{a}-{j}", a, "normal", 25, 25, NOW - timedelta(days=400), NOW - timedelta(days=1))
        for a in owners
        for j in range(lots_per_account)
    ]
    return plan_writer(plan_expire(lots, owners, NOW), "p").prepare


def test_a_sweep_batch_larger_than_the_limit_is_planned_with_its_values() -> None:
    # 40 accounts: 40 account rows and 160 lot rows to update.
    assert _expiry_writer(40, 4) is False


def test_small_plans_keep_the_prepared_generic_plan() -> None:
    assert _expiry_writer(1, 4) is None  # one account, four lots: a credit-sized statement
    # The limit counts the rows of the largest UPDATE: here 32 lots of 8 accounts.
    assert _expiry_writer(8, PLAN_WITH_VALUES_ABOVE // 8) is None
    assert _expiry_writer(8, PLAN_WITH_VALUES_ABOVE // 8 + 1) is False
