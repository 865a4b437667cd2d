"""Checks of the history against the ledger: what each request did.

A request's *footprint* is the set of ledger transactions it caused, found by the idempotency
key the transaction was written under (accounts keeps it), or for POS sales by the sale's
source id:

| kind                   | footprint                                 | acknowledged means    |
|------------------------|-------------------------------------------|-----------------------|
| grant, transfer, debit | key == the request's key                  | exactly the acked tx  |
| purchase               | key == `earn:purchase:<purchase id>:<kind>` | exactly the acked txs |
| thanks                 | key == `earn:thanks:<key>:<receiver>`     | one tx per receiver   |
| pos                    | source `order` / `pos:<sale id>`          | exactly the acked tx  |
| order, cancel          | the order row (by key); its saga is checked in check_state.py     |

A definite failure must leave an empty footprint (an order refused mid-saga leaves a FAILED
order whose points moves cancel out; that is checked with the sagas).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import grpc

from chaos.client import RetryPolicy, execute
from chaos.history import Op, Outcome
from chaos.ledger_reads import LedgerTx, OrderRow
from chaos.operations import KINDS
from chaos.programs import ChaosProgram
from chaos.verdict import Property
from chaos.workload import Workload
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, members_pb2
from tamaru.common.v1 import common_pb2

LEDGER_KINDS = ("grant", "transfer", "debit", "purchase", "thanks", "pos")
TERMINAL = ("confirmed", "failed", "cancelled", "shipped", "delivered")
REPLAY_CONCURRENCY = 8


@dataclass
class LedgerIndex:
    """One program's ledger transactions, indexed the ways footprints are looked up."""

    by_key: dict[str, list[LedgerTx]] = field(default_factory=lambda: defaultdict(list))
    by_source: dict[tuple[str, str], list[LedgerTx]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @classmethod
    def of(cls, txs: Iterable[LedgerTx]) -> LedgerIndex:
        index = cls()
        for tx in txs:
            index.by_key[_client_key(tx.key)].append(tx)
            index.by_source[(tx.source_type, tx.source_id)].append(tx)
        return index

    def footprint(self, op: Op) -> list[LedgerTx]:
        if op.kind in ("grant", "transfer", "debit"):
            return [t for t in self.by_key.get(op.key, []) if t.key == op.key]
        if op.kind in ("purchase", "thanks"):
            prefix = f"earn:{op.kind}:{op.key}:"
            return [t for t in self.by_key.get(op.key, []) if t.key.startswith(prefix)]
        if op.kind == "pos":
            return list(self.by_source.get(("order", f"pos:{op.key}"), []))
        return []


def _client_key(ledger_key: str) -> str:
    """The client's key inside a derived one (`earn:thanks:<key>:<receiver>` -> `<key>`)."""
    parts = ledger_key.split(":")
    return parts[2] if parts[0] == "earn" and len(parts) >= 4 else ledger_key


async def resolve_indeterminate(workload: Workload, policy: RetryPolicy) -> Property:
    """Replay every indeterminate request with its key until the cluster answers for sure."""
    prop = Property("indeterminate requests resolved by replay")
    unresolved = [op for op in workload.history.ops if op.outcome is Outcome.INFO]
    gate = asyncio.Semaphore(REPLAY_CONCURRENCY)

    async def resolve(op: Op) -> None:
        kind = KINDS[op.kind]
        metadata = workload.program(op.program_id).metadata()
        async with gate:
            await execute(op, workload.call(kind), metadata, kind.ack, policy, workload.clock)
        op.resolved_after_run = True

    await asyncio.gather(*(resolve(op) for op in unresolved))
    for op in unresolved:
        prop.expect(
            op.outcome is not Outcome.INFO,
            f"{op.kind} {op.key}: still no definite answer ({op.code})",
        )
    outcomes = Counter(op.outcome.value for op in unresolved)
    prop.note = f"{len(unresolved)} indeterminate -> " + (
        ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "none"
    )
    return prop


async def replay_acknowledged(
    workload: Workload, policy: RetryPolicy, limit: int, seed: int
) -> Property:
    """Send acknowledged requests again with their keys: each must answer with its first
    result (same transaction ids, same order, same thanks ids)."""
    prop = Property("replayed key returns the first result")
    acked = [op for op in workload.history.ops if op.outcome is Outcome.OK]
    sample = acked if len(acked) <= limit else random.Random(seed).sample(acked, limit)
    gate = asyncio.Semaphore(REPLAY_CONCURRENCY)

    async def replay(op: Op) -> Op:
        kind = KINDS[op.kind]
        again = replace(op, attempts=0, outcome=Outcome.INFO, tx_ids=(), refs=(), retried_codes=[])
        metadata = workload.program(op.program_id).metadata()
        async with gate:
            return await execute(
                again, workload.call(kind), metadata, kind.ack, policy, workload.clock
            )

    replays = await asyncio.gather(*(replay(op) for op in sample))
    for op, again in zip(sample, replays, strict=True):
        first, second = _comparable(op), _comparable(again)
        # An order acknowledged while its saga was still running may have failed since; its
        # key then answers with the failure (the sagas check proves it was compensated).
        was_pending = op.kind == "order" and op.refs[1:] == ("ORDER_STATUS_PENDING",)
        prop.expect(
            (again.outcome is Outcome.OK and first == second)
            or (was_pending and again.outcome is Outcome.FAIL),
            f"{op.kind} {op.key}: first {first}, replay {again.outcome.value} {second} "
            f"{again.code} {again.reason}".rstrip(),
        )
    prop.note = f"{len(sample)} of {len(acked)} acknowledged requests replayed"
    return prop


def _comparable(op: Op) -> tuple[str, ...]:
    if op.kind in ("order", "cancel"):
        return op.refs[:1]  # the same order; its status moves on
    return op.tx_ids + op.refs


async def member_histories(
    channel: grpc.aio.Channel, programs: Sequence[ChaosProgram]
) -> dict[tuple[str, str], Counter[str]]:
    """(program, member) -> how often each transaction id appears in ListHistory."""
    stub = accounts_pb2_grpc.AccountsServiceStub(channel)
    histories: dict[tuple[str, str], Counter[str]] = {}
    for program in programs:
        for account_id in program.members:
            seen: Counter[str] = Counter()
            token = ""
            while True:
                reply = await stub.ListHistory(
                    accounts_pb2.ListHistoryRequest(
                        member=members_pb2.MemberSelector(account_id=account_id),
                        page=common_pb2.PageRequest(page_size=200, page_token=token),
                    ),
                    metadata=program.metadata(),
                    timeout=30,
                )
                seen.update(t.transaction_id for t in reply.transactions)
                token = reply.page.next_page_token
                if not token:
                    break
            histories[(program.program_id, account_id)] = seen
    return histories


def exactly_once(
    ops: Sequence[Op],
    ledgers: Mapping[str, LedgerIndex],
    orders: Mapping[str, list[OrderRow]],
    histories: Mapping[tuple[str, str], Counter[str]],
) -> tuple[Property, Property, int]:
    """(acknowledged took effect exactly once, failed left nothing, acknowledged lost)."""
    acked = Property("acknowledged request took effect exactly once")
    failed = Property("failed request left nothing")
    lost = 0
    by_key = {
        program: {row.key: [r for r in rows if r.key == row.key] for row in rows}
        for program, rows in orders.items()
    }
    status_of = {row.order_id: row.status for rows in orders.values() for row in rows}
    for op in ops:
        name = f"{op.kind} {op.key} ({op.program_id})"
        if op.outcome is Outcome.OK and op.kind in LEDGER_KINDS:
            footprint = ledgers[op.program_id].footprint(op)
            if not footprint and (op.tx_ids or op.kind != "purchase"):
                lost += 1
            acked.expect(*_ledger_effect(op, footprint, histories, name))
        elif op.outcome is Outcome.OK and op.kind == "order":
            rows = by_key[op.program_id].get(op.key, [])
            lost += not rows
            acked.expect(
                len(rows) == 1 and rows[0].order_id == op.refs[0],
                f"{name}: acknowledged order {op.refs[0]}, the orders with its key: "
                f"{[r.order_id for r in rows]}",
            )
        elif op.outcome is Outcome.OK and op.kind == "cancel":
            status = status_of.get(op.refs[0], "missing")
            acked.expect(status == "cancelled", f"{name}: cancel acknowledged, order is {status}")
        elif op.outcome is Outcome.FAIL and op.kind in LEDGER_KINDS:
            footprint = ledgers[op.program_id].footprint(op)
            failed.expect(
                not footprint,
                f"{name}: failed with {op.code} {op.reason} but wrote "
                f"{[t.tx_id for t in footprint]}",
            )
        elif op.outcome is Outcome.FAIL and op.kind == "order":
            rows = by_key[op.program_id].get(op.key, [])
            failed.expect(
                all(r.status == "failed" for r in rows),
                f"{name}: failed with {op.code} {op.reason} but its order is "
                f"{[r.status for r in rows]}",
            )
    return acked, failed, lost


def _ledger_effect(
    op: Op,
    footprint: list[LedgerTx],
    histories: Mapping[tuple[str, str], Counter[str]],
    name: str,
) -> tuple[bool, str]:
    ids = [t.tx_id for t in footprint]
    expected = len(op.tx_ids) if op.kind == "purchase" else 1
    if len(ids) != expected:
        return False, f"{name}: acknowledged, ledger has {len(ids)} transactions {ids}"
    if op.tx_ids and set(ids) != set(op.tx_ids):
        return False, f"{name}: acknowledged {list(op.tx_ids)}, ledger has {ids}"
    if op.kind == "thanks" and not all(t.source_id in op.refs for t in footprint):
        return False, f"{name}: ledger source ids {[t.source_id for t in footprint]}"
    for tx_id in ids:
        for account_id in op.members:
            seen = histories[(op.program_id, account_id)][tx_id]
            if seen != 1:
                return False, f"{name}: {tx_id} appears {seen}x in {account_id}'s history"
    return True, ""
