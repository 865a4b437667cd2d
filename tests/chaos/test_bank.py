"""The bank test's short run (`make test`): the same code as `python -m chaos`, small numbers.

Every service runs as its own process on a PostgreSQL and a NATS of the test's own, while the
nemesis kills services, restarts NATS and PostgreSQL, partitions a service from them, slows its
links and restarts it with a skewed clock; the verdict must be valid.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chaos.cluster import Cluster
from chaos.nemesis import Nemesis
from chaos.run import Options, run_bank_test


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_short_bank_run_under_faults_is_valid() -> None:
    lines: list[str] = []
    outcome = await run_bank_test(
        Options(
            seconds=30,
            programs=2,
            clients=6,
            members=6,
            fault_interval=1.5,
            request_budget=10.0,  # short, so some requests end indeterminate and get resolved
            seed=7,
        ),
        say=lines.append,
    )
    report = "\n".join(lines)
    print(report)  # shown with `pytest -s`, and by pytest when the test fails
    assert outcome.verdict.valid, report
    # The nemesis did its work: its first round injects every kind of fault once.
    for kind in Nemesis(Cluster(Path(), ()), 0, 1.0, time.monotonic).kinds():
        assert outcome.faults.get(kind, 0) >= 1, f"no {kind} fault\n{report}"
    assert outcome.ops >= 40, report  # and the clients did theirs
    names = {p.name for p in outcome.verdict.properties}
    assert "saga ended confirmed or compensated" in names  # redeem was part of the run
