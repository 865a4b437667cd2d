"""Checks that prove the ledger consistent: the journal, the lots, the holds and the cached
balances all agree. Used by the property tests and by an audit over real data."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from services.accounts.domain.model import (
    Account,
    AccountRef,
    AccountStatus,
    Hold,
    HoldStatus,
    Lot,
    SystemAccount,
    Transaction,
    TxType,
    system_ref,
)


def journal_balances(transactions: Mapping[str, Transaction]) -> dict[AccountRef, int]:
    balances: dict[AccountRef, int] = defaultdict(int)
    for tx in transactions.values():
        for posting in tx.postings:
            balances[posting.account] += posting.amount
    return balances


def check_invariants(
    accounts: Mapping[str, Account],
    lots: Mapping[str, Lot],
    holds: Mapping[str, Hold],
    transactions: Mapping[str, Transaction],
) -> list[str]:
    """Every violated invariant, described; empty when the ledger is consistent."""
    problems: list[str] = []
    problems += _check_transactions(transactions, accounts)
    problems += _check_lots(lots, holds, accounts)
    problems += _check_holds(holds, lots, transactions)
    problems += _check_accounts(accounts, lots, holds, journal_balances(transactions))
    return problems


def _check_transactions(
    transactions: Mapping[str, Transaction], accounts: Mapping[str, Account]
) -> list[str]:
    problems = []
    reversed_by: dict[str, int] = defaultdict(int)
    for tx in transactions.values():
        total = sum(p.amount for p in tx.postings)
        if total != 0:
            problems.append(f"tx {tx.tx_id}: postings sum to {total}, not 0")
        for p in tx.postings:
            if not isinstance(p.amount, int) or p.amount == 0:
                problems.append(f"tx {tx.tx_id}: posting {p} is not a non-zero integer")
            if p.account.type == "member" and p.account.id not in accounts:
                problems.append(f"tx {tx.tx_id}: posting to unknown account {p.account.id}")
        if tx.type in (TxType.DEBIT, TxType.CAPTURE, TxType.ADJUSTMENT_DEBIT, TxType.TRANSFER):
            drawn = sum(d.amount for d in tx.spent)
            if drawn != tx.amount:
                problems.append(f"tx {tx.tx_id}: spent {drawn} from lots but moved {tx.amount}")
        if not 0 <= tx.reversed_amount <= tx.amount:
            problems.append(f"tx {tx.tx_id}: reversed {tx.reversed_amount} of {tx.amount}")
        if tx.reverses_tx_id is not None:
            reversed_by[tx.reverses_tx_id] += tx.amount
    for tx_id, amount in reversed_by.items():
        original = transactions.get(tx_id)
        if original is None or original.reversed_amount != amount:
            problems.append(f"tx {tx_id}: reversals cover {amount}, original records otherwise")
    return problems


def _check_lots(
    lots: Mapping[str, Lot], holds: Mapping[str, Hold], accounts: Mapping[str, Account]
) -> list[str]:
    problems = []
    held_on: dict[str, int] = defaultdict(int)
    for hold in holds.values():
        if hold.status is HoldStatus.OPEN:
            for a in hold.allocations:
                held_on[a.lot_id] += a.amount
    for lot in lots.values():
        if not 0 <= lot.remaining <= lot.amount:
            problems.append(f"lot {lot.lot_id}: remaining {lot.remaining} of {lot.amount}")
        if lot.expired_amount < 0:
            problems.append(f"lot {lot.lot_id}: expired {lot.expired_amount}")
        if lot.remaining + lot.expired_amount + held_on[lot.lot_id] > lot.amount:
            problems.append(
                f"lot {lot.lot_id}: remaining {lot.remaining} + expired {lot.expired_amount} "
                f"+ held {held_on[lot.lot_id]} exceed its {lot.amount}"
            )
        owner = accounts.get(lot.account_id)
        if owner is None or owner.status is AccountStatus.MERGED:
            problems.append(f"lot {lot.lot_id}: owner {lot.account_id} is missing or merged")
    return problems


def _check_holds(
    holds: Mapping[str, Hold], lots: Mapping[str, Lot], transactions: Mapping[str, Transaction]
) -> list[str]:
    problems = []
    for hold in holds.values():
        allocated = sum(a.amount for a in hold.allocations)
        if allocated != hold.amount or any(a.amount <= 0 for a in hold.allocations):
            problems.append(f"hold {hold.hold_id}: allocations {allocated} != {hold.amount}")
        if hold.status.is_terminal != (hold.settled_at is not None):
            problems.append(f"hold {hold.hold_id}: status {hold.status} vs settled_at")
        if hold.status is HoldStatus.CAPTURED:
            capture = transactions.get(hold.settle_tx_id or "")
            if capture is None or capture.amount != hold.captured_amount:
                problems.append(f"hold {hold.hold_id}: captured without its transaction")
        elif hold.captured_amount:
            problems.append(f"hold {hold.hold_id}: {hold.status} yet captured points")
        if hold.status is HoldStatus.OPEN:
            for a in hold.allocations:
                lot = lots.get(a.lot_id)
                if lot is None or lot.account_id != hold.account_id:
                    problems.append(f"hold {hold.hold_id}: lot {a.lot_id} not in its account")
    return problems


def _check_accounts(
    accounts: Mapping[str, Account],
    lots: Mapping[str, Lot],
    holds: Mapping[str, Hold],
    journal: Mapping[AccountRef, int],
) -> list[str]:
    problems = []
    remaining: dict[str, int] = defaultdict(int)
    for lot in lots.values():
        remaining[lot.account_id] += lot.remaining
    held: dict[str, int] = defaultdict(int)
    for hold in holds.values():
        if hold.status is HoldStatus.OPEN:
            held[hold.account_id] += hold.amount
    members_total = 0
    for account in accounts.values():
        aid = account.account_id
        members_total += account.available + account.held
        if account.deficit < 0 or account.held < 0:
            problems.append(f"account {aid}: deficit {account.deficit}, held {account.held}")
        if account.available != remaining[aid] - account.deficit:
            problems.append(
                f"account {aid}: available {account.available} != lots' remaining "
                f"{remaining[aid]} - deficit {account.deficit}"
            )
        if account.held != held[aid]:
            problems.append(f"account {aid}: held {account.held} != open holds {held[aid]}")
        in_journal = journal.get(AccountRef("member", aid), 0)
        if in_journal != account.available + account.held:
            problems.append(
                f"account {aid}: journal balance {in_journal} != available + held "
                f"{account.available + account.held}"
            )
        if account.status is AccountStatus.MERGED and (
            account.available or account.held or account.deficit
        ):
            problems.append(f"account {aid}: merged but not empty")
    system = {s: journal.get(system_ref(s), 0) for s in SystemAccount}
    # Conservation: every point issued is with a member (available or held), redeemed,
    # expired, or balanced by an adjustment.
    issued = -system[SystemAccount.ISSUED]
    accounted = (
        members_total
        + system[SystemAccount.REDEEMED]
        + system[SystemAccount.EXPIRED]
        + system[SystemAccount.ADJUSTMENTS]
    )
    if issued != accounted:
        problems.append(f"conservation: issued {issued} != accounted for {accounted}")
    for name in (SystemAccount.REDEEMED, SystemAccount.EXPIRED):
        if system[name] < 0:
            problems.append(f"system account {name.value} is negative: {system[name]}")
    if issued < 0:
        problems.append(f"more points returned to issued than were issued: {issued}")
    return problems
