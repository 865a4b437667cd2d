"""The benchmark harness still works end to end (so `make bench` cannot rot): every scenario
runs at tiny sizes against a real stack — accounts, earn, catalog, redeem and billing as
their own processes, the test session's PostgreSQL server and NATS — and writes well-formed results.

The figures themselves mean nothing at this size; the test checks their shape and that no
call failed, not their speed.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.progress import Console
from bench.runner import RunOptions, run_benchmarks
from bench.scenarios import ALL
from bench.sizes import TINY

ACCOUNTS_OPERATIONS = {
    "credit",
    "debit",
    "batch_credit",
    *(f"balance_{TINY.small_label}_{c}" for c in TINY.read_clients),
    *(f"balance_{TINY.large_label}_{c}" for c in TINY.read_clients),
    "expiry",
    f"credit_at_{TINY.large_label}",
}


async def test_every_scenario_runs_and_writes_its_results(
    postgres_server_url: str, nats_url: str, tmp_path: Path
) -> None:
    options = RunOptions(
        sizes=TINY,
        scenarios=ALL,
        out_dir=tmp_path,
        stamp="smoke",
        server_url=postgres_server_url,
        nats_url=nats_url,
    )
    result, paths = await run_benchmarks(options, Console(enabled=False))

    assert result.failures == []
    assert {f.operation for f in result.figures if f.scenario == "accounts"} == ACCOUNTS_OPERATIONS
    assert {(f.scenario, f.operation) for f in result.figures if f.scenario != "accounts"} == {
        ("earn", "record_purchase"),
        ("earn", "batch_record_purchases"),
        ("redeem", "order"),
        ("catalog", "search"),
        ("billing", "billing_drain"),
        ("billing", "usage_report"),
        ("billing", "invoice_draft"),
    }
    for figure in result.figures:
        for stats in (figure.service, figure.baseline):
            assert stats is not None, f"{figure.operation} has no baseline"
            assert stats.errors == 0, (figure.operation, stats.error_samples)
            assert stats.entries > 0, figure.operation
            assert stats.throughput > 0, figure.operation
        assert figure.ratio is not None
        assert figure.ratio > 0
        if figure.has_latency:
            p50, p99 = figure.service.p50_ms, figure.service.p99_ms
            assert p50 is not None
            assert p99 is not None
            assert 0 < p50 <= p99
    expiry = next(f for f in result.figures if f.operation == "expiry")
    assert expiry.service.entries == TINY.expiry_lots  # every due lot was swept
    drain = next(f for f in result.figures if f.operation == "billing_drain")
    assert drain.service.entries == TINY.billing_events  # every event became one charge
    # Billing's consumer was paused while the others ran: only its own backlog was pending.
    assert f"{TINY.billing_events:,} events were pending" in drain.notes[0]
    earn = [f for f in result.figures if f.scenario == "earn"]
    assert all("accounts Credit in this run (the accounts scenario's)" in f.notes[0] for f in earn)
    # Accounts credits every purchase: its CPU is the stack's, not someone else's on the machine.
    purchases = next(f for f in earn if f.operation == "record_purchase")
    assert purchases.service.cpu is not None
    assert purchases.service.cpu.stack > 0

    data = json.loads(paths["json"].read_text())
    assert data["sizes"] == "tiny"
    assert [f["operation"] for f in data["figures"]] == [f.operation for f in result.figures]
    assert all("ratio" in f and "checks" in f for f in data["figures"])
    summary = paths["summary"].read_text()
    assert "| operation | service |" in summary
    assert all(f.title in summary for f in result.figures)
    assert paths["plot"].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    footprint = data["stack"]["footprint"]
    assert footprint["database_bytes"] > 0
    assert set(footprint["service_peak_rss_bytes"]) == {
        "accounts", "earn", "catalog", "redeem", "billing",
    }  # fmt: skip
    assert all(n and n > 10 * 2**20 for n in footprint["service_peak_rss_bytes"].values())
    assert "footprint: database" in summary
