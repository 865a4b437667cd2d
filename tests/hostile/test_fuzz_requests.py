"""Every public RPC of every service, fed generated hostile requests with a valid key.

Per request: the status is never a server fault (INTERNAL, UNKNOWN, DATA_LOSS, a hang, a
crash), and a refused request leaves the program's ledger totals (accounts' Verify: issued,
member balances, held, redeemed, expired, adjustments) exactly as they were.

`test_hostile_requests...` sends ordinary hostile requests; `test_edge_values...` forces one
kind of edge value (NUL characters, long strings, out-of-range Timestamps, unknown enum numbers)
into every field it fits, for each RPC that has such a field.
"""

from __future__ import annotations

from functools import cache

import pytest
from google.protobuf.message import Message
from hypothesis import event, given
from hypothesis import strategies as st

from runtime.auth import Role
from tests.hostile.discovery import Rpc, all_rpcs, services_under_test
from tests.hostile.fuzz_settings import EDGE, FUZZ
from tests.hostile.known_findings import FINDINGS, expect
from tests.hostile.ledger_snapshot import LedgerTotals, ledger_totals, settled_totals
from tests.hostile.proto_strategies import Edge, MessageStrategies, Vocabulary, edges_for
from tests.hostile.rpc_calls import SERVER_FAULTS, Outcome, show
from tests.hostile.seeding import SeededProgram
from tests.hostile.stack import HostileStack
from tests.support.services import TestProgram


@cache
def strategies_for(vocabulary: Vocabulary, edge: Edge | None) -> MessageStrategies:
    return MessageStrategies(vocabulary, edge)


def request_batches(
    rpc: Rpc, vocabulary: Vocabulary, edge: Edge | None = None
) -> st.SearchStrategy[list[Message]]:
    message = strategies_for(vocabulary, edge).for_message(rpc.request)
    if rpc.client_streaming:
        # An empty stream is a hostile request too.
        return st.lists(message, min_size=0, max_size=3)
    return message.map(lambda m: [m])


# The last totals seen per program, so each example costs one Verify, not two.
LAST_TOTALS: dict[str, LedgerTotals | None] = {}


async def _confirm_ledger_change(
    stack: HostileStack, rpc: Rpc, requests: list[Message], program: TestProgram, role: Role
) -> str | None:
    """The totals moved around a refused call: rerun it on a settled ledger to tell a leak
    (moves again) from a background effect of an earlier accepted call (does not)."""
    before = await settled_totals(stack, program)
    again = await stack.call(rpc, requests, program, role)
    after = await ledger_totals(stack, program)
    LAST_TOTALS[program.program_id] = after
    if again.ok or before == after:
        return None
    return f"refused ({again.describe()}) yet the ledger moved: {before} -> {after}"


async def attack(
    stack: HostileStack, rpc: Rpc, requests: list[Message], program: TestProgram
) -> None:
    """Send `requests` with a key the policy lets in: no server fault, and a refusal moves no
    points."""
    role = rpc.calling_role()
    before = LAST_TOTALS.get(program.program_id) or await ledger_totals(stack, program)

    outcome: Outcome = await stack.call(rpc, requests, program, role)
    event(f"{rpc.id}: {outcome.code.name}")

    assert outcome.code not in SERVER_FAULTS, (
        f"{rpc.id} answered {outcome.describe()} to: {show(requests)}"
    )
    after = await ledger_totals(stack, program)
    LAST_TOTALS[program.program_id] = after
    if outcome.ok or before == after:
        return
    problem = await _confirm_ledger_change(stack, rpc, requests, program, role)
    assert problem is None, f"{rpc.id}: {problem}; request: {show(requests)}"


@pytest.mark.parametrize("rpc", [expect("fuzz", rpc) for rpc in all_rpcs()])
@FUZZ
@given(data=st.data())
async def test_hostile_requests_never_fault_nor_move_points(
    rpc: Rpc,
    data: st.DataObject,
    stack: HostileStack,
    fuzz_program: SeededProgram,
    vocabulary: Vocabulary,
) -> None:
    requests = data.draw(request_batches(rpc, vocabulary), label="requests")
    await attack(stack, rpc, requests, fuzz_program.program)


EDGE_CASES = [
    expect(edge.value, rpc, edge) for rpc in all_rpcs() for edge in edges_for(rpc.request)
]


@pytest.mark.parametrize(("rpc", "edge"), EDGE_CASES)
@EDGE
@given(data=st.data())
async def test_edge_values_never_fault_nor_move_points(
    rpc: Rpc,
    edge: Edge,
    data: st.DataObject,
    stack: HostileStack,
    fuzz_program: SeededProgram,
    vocabulary: Vocabulary,
) -> None:
    requests = data.draw(request_batches(rpc, vocabulary, edge), label="requests")
    await attack(stack, rpc, requests, fuzz_program.program)


def test_known_findings_name_real_cases() -> None:
    """A typo in known_findings.py would silently track nothing."""
    checks = {"fuzz", "tenant", "role", *(edge.value for edge in Edge)}
    running = {service.name for service in services_under_test()}
    rpc_ids = {rpc.id for rpc in all_rpcs()}
    for finding_id, finding in FINDINGS.items():
        for case in finding.cases:
            check, _, rpc_id = case.partition(":")
            assert check in checks, f"{finding_id}: unknown check in {case}"
            if rpc_id.split(".")[0] in running:  # TAMARU_HOSTILE_SERVICES may leave some out
                assert rpc_id in rpc_ids, f"{finding_id}: no RPC {rpc_id}"


async def test_seeding_gave_requests_real_records_to_aim_at(
    fuzz_program: SeededProgram, tenant_programs: tuple[SeededProgram, SeededProgram]
) -> None:
    """Seeding goes through the services' own RPCs; if one refuses, generated requests only
    ever meet "not found" for that service and the fuzzing above is shallow there."""
    # One kind of record each service's seeding makes (billing has nothing to seed).
    made_by = {"accounts": "account_id", "catalog": "sku", "earn": "grant_id", "redeem": "order_id"}
    running = {service.name for service in services_under_test()}
    expected = {kind for service, kind in made_by.items() if service in running}
    for seeded in (fuzz_program, *tenant_programs):
        assert seeded.notes == [], f"seeding {seeded!r} failed: {seeded.notes}"
        assert expected <= set(seeded.by_kind), f"{seeded!r} has only {sorted(seeded.by_kind)}"
