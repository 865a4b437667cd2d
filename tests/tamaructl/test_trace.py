"""`tamaructl trace` rebuilds one request's span tree from the local span file."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from runtime.telemetry.file_exporter import JsonLinesSpanExporter
from tamaructl import trace


def write_trace(path: Path) -> str:
    provider = TracerProvider(resource=Resource.create({"service.name": "tamaru-redeem"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "PlaceOrder", attributes={"tamaru.program_id": "acme"}
    ) as root:
        with (
            tracer.start_as_current_span("tamaru.cmd.accounts.PlaceHold request"),
            tracer.start_as_current_span("tamaru.cmd.accounts.PlaceHold process"),
        ):
            pass
        with tracer.start_as_current_span("tamaru.cmd.catalog.ReserveStock request"):
            pass
    with tracer.start_as_current_span("unrelated"):
        pass
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def test_prints_the_tree_of_one_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spans.jsonl"
    trace_id = write_trace(path)
    assert trace.main([trace_id, "--file", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.strip().split(" [")[0] for line in lines]
    assert names == [
        "PlaceOrder",
        "tamaru.cmd.accounts.PlaceHold request",
        "tamaru.cmd.accounts.PlaceHold process",
        "tamaru.cmd.catalog.ReserveStock request",
    ]
    indents = [len(line) - len(line.lstrip()) for line in lines]
    assert indents == [0, 2, 4, 2]
    assert "program_id=acme" in lines[0]
    assert "[tamaru-redeem]" in lines[0]


def test_unknown_trace_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    write_trace(path)
    assert trace.main(["0" * 32, "--file", str(path)]) == 1
