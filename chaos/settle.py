"""After healing, wait until the system has caught up before judging it: sagas finished (the
recovery worker runs every 5 s), outboxes published, durable consumers drained, and at least
one ledger sweep has passed. Not settling in time is itself reported as a finding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from nats.js import JetStreamContext

from chaos.check_requests import TERMINAL
from chaos.ledger_reads import LedgerReads
from chaos.programs import ChaosProgram
from chaos.stream_reads import durable_consumers
from chaos.verdict import Property

SWEEP_WAIT = 6.0  # seconds after healing: one accounts/catalog sweep (every 5 s) has run
TIMEOUT = 120.0


async def settle(
    reads: LedgerReads,
    js: JetStreamContext,
    programs: Sequence[ChaosProgram],
    services: Sequence[str],
    healed_at: float,
) -> Property:
    prop = Property("system settled after healing")
    began = time.monotonic()
    deadline = began + TIMEOUT
    last_seen: dict[str, float] = {}  # what kept us waiting -> seconds in, when last seen
    while True:
        waiting = await _still_busy(reads, js, programs, services)
        for what in waiting:
            last_seen[what.split(":")[0]] = time.monotonic() - began
        swept = time.monotonic() - healed_at >= SWEEP_WAIT
        if not waiting and swept:
            break
        if time.monotonic() > deadline:
            for what in waiting:
                prop.fail(f"after {TIMEOUT:g}s: {what}")
            break
        await asyncio.sleep(0.5)
    prop.checked = 1
    waited = ", ".join(f"{what} until {at:.1f}s" for what, at in last_seen.items())
    prop.note = f"settled in {time.monotonic() - began:.1f}s" + (f" ({waited})" if waited else "")
    return prop


async def _still_busy(
    reads: LedgerReads,
    js: JetStreamContext,
    programs: Sequence[ChaosProgram],
    services: Sequence[str],
) -> list[str]:
    busy = []
    if "redeem" in services:
        for p in programs:
            running = [o for o in await reads.orders(p.program_id) if o.status not in TERMINAL]
            if running:
                busy.append(f"orders of {p.program_id}: {len(running)} not terminal")
    for schema in services:
        _, unsent = await reads.outbox(schema)
        if unsent:
            busy.append(f"{schema} outbox: {unsent} events unsent")
    for durable, (backlog, _) in (await durable_consumers(js)).items():
        if backlog:
            busy.append(f"consumer {durable}: {backlog} messages pending")
    return busy
