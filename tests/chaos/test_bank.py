"""The bank test's short run (`make test`): the same code as `python -m chaos`, small numbers.

Every service runs as its own process on a PostgreSQL and a NATS of the test's own, while the
nemesis kills services and restarts NATS and PostgreSQL; the verdict must be valid.
"""

from __future__ import annotations

import pytest

from chaos.run import Options, run_bank_test


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_short_bank_run_under_faults_is_valid() -> None:
    lines: list[str] = []
    outcome = await run_bank_test(
        Options(
            seconds=25,
            programs=2,
            clients=6,
            members=6,
            fault_interval=3.0,
            request_budget=10.0,  # short, so some requests end indeterminate and get resolved
            seed=7,
        ),
        say=lines.append,
    )
    report = "\n".join(lines)
    print(report)  # shown with `pytest -s`, and by pytest when the test fails
    assert outcome.verdict.valid, report
    # The nemesis did its work: seed 7's schedule opens with a PostgreSQL restart at ~3 s
    # (then a kill, a NATS restart, ...; later ones depend on the machine's speed).
    assert outcome.faults.get("postgres", 0) >= 1, report
    assert sum(outcome.faults.values()) >= 2, report
    assert outcome.ops >= 40, report  # and the clients did theirs
    names = {p.name for p in outcome.verdict.properties}
    assert "saga ended confirmed or compensated" in names  # redeem was part of the run
