"""The tenant matrix: every RPC of every service, called with program B's key on program A's
records (A's member ids, refs, cards, SKUs, orders, ... mixed with B's own), reveals nothing of A
and changes nothing in A.

Per request: no server fault; nothing of A's (ids, names, emails, titles, messages, codes) in the
answer unless B itself sent it; when refused, the same refusal (code, reason, field, message) as
a twin request naming made-up records instead of A's gets (so "another program's" cannot be
told from "does not exist"); and A's ledger totals unchanged.
"""

from __future__ import annotations

from functools import cache

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.discovery import Rpc, all_rpcs
from tests.hostile.fuzz_settings import TENANT
from tests.hostile.known_findings import expect
from tests.hostile.ledger_snapshot import LedgerTotals, ledger_totals, settled_totals
from tests.hostile.proto_strategies import MessageStrategies, Vocabulary
from tests.hostile.rpc_calls import SERVER_FAULTS, show
from tests.hostile.seeding import COMMON_VALUES, SeededProgram
from tests.hostile.stack import HostileStack
from tests.hostile.tenant_twins import (
    answer_bytes,
    normalized,
    refresh_idempotency_keys,
    twin_requests,
)


@cache
def aimed_strategies(vocabulary: Vocabulary) -> MessageStrategies:
    return MessageStrategies(vocabulary, aimed=True)


def aimed_batches(rpc: Rpc, vocabulary: Vocabulary) -> st.SearchStrategy[list[Message]]:
    message = aimed_strategies(vocabulary).for_message(rpc.request)
    if rpc.client_streaming:
        return st.lists(message, min_size=1, max_size=2)
    return message.map(lambda m: [m])


@cache
def tenant_vocabulary(a: SeededProgram, b: SeededProgram) -> Vocabulary:
    """A's values first (generation starts from the first ones), then B's own."""
    kinds = dict.fromkeys([*a.by_kind, *b.by_kind])
    return Vocabulary(
        strings=tuple(dict.fromkeys([*a.ids, *b.ids, *COMMON_VALUES])),
        by_kind=tuple(
            (kind, (*a.by_kind.get(kind, []), *b.by_kind.get(kind, []))) for kind in kinds
        ),
    )


# A's values B has put in its own requests so far: B may get those back (it may have enrolled a
# member with A's external ref, which is no secret to B: B chose that text).
SENT_BY_B: set[str] = set()

# Program A's ledger totals once seeding settled; nothing B does may change them.
A_BASELINE: dict[str, LedgerTotals | None] = {}


async def baseline(stack: HostileStack, a: SeededProgram) -> LedgerTotals | None:
    if a.program.program_id not in A_BASELINE:
        A_BASELINE[a.program.program_id] = await settled_totals(stack, a.program)
    return A_BASELINE[a.program.program_id]


@pytest.mark.parametrize("rpc", [expect("tenant", rpc) for rpc in all_rpcs()])
@TENANT
@given(data=st.data())
async def test_another_programs_key_learns_and_changes_nothing(
    rpc: Rpc,
    data: st.DataObject,
    stack: HostileStack,
    tenant_programs: tuple[SeededProgram, SeededProgram],
) -> None:
    a, b = tenant_programs
    vocabulary = tenant_vocabulary(a, b)
    requests = data.draw(aimed_batches(rpc, vocabulary), label="requests")
    refresh_idempotency_keys(requests)
    role = rpc.calling_role()
    a_totals = await baseline(stack, a)

    outcome = await stack.call(rpc, requests, b.program, role)

    assert outcome.code not in SERVER_FAULTS, (
        f"{rpc.id} answered {outcome.describe()} to: {show(requests)}"
    )
    sent = b"\n".join(r.SerializeToString() for r in requests)
    SENT_BY_B.update(t for t in a.traces if t.encode() in sent)
    got = answer_bytes(outcome)
    leaked = [t for t in a.traces if t.encode() in got and t not in SENT_BY_B]
    assert not leaked, (
        f"{rpc.id} showed program B {leaked} of program A ({outcome.describe()}); "
        f"request: {show(requests)}"
    )
    twins, swaps = twin_requests(requests, set(a.ids))
    # An accepted request changes B's state (a lottery entered, a purchase recorded), so its
    # twin may well be answered differently; what it got back was checked for A's data above.
    if swaps and not outcome.ok:
        refresh_idempotency_keys(twins)
        twin = await stack.call(rpc, twins, b.program, role)
        assert normalized(outcome, swaps) == normalized(twin, swaps), (
            f"{rpc.id} told A's records from made-up ones: {outcome.describe()} for A's "
            f"{sorted(swaps)} vs {twin.describe()} for made-up ones; request: {show(requests)}"
        )
    assert await ledger_totals(stack, a.program) == a_totals, (
        f"{rpc.id} with program B's key changed program A's ledger; request: {show(requests)}"
    )
