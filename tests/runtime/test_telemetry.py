"""Telemetry setup per mode, the JSON-lines span file, W3C propagation over message headers, and
the shared log format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.trace import SpanKind

from runtime.config import Settings, TelemetryMode
from runtime.telemetry import (
    bind_program_id,
    configure_logging,
    current_trace_id,
    extract_context,
    inject_headers,
    setup_telemetry,
)
from runtime.telemetry.file_exporter import read_spans


def settings(mode: TelemetryMode, **overrides: Any) -> Settings:
    return Settings(telemetry=mode, **overrides)


# --- setup per mode -------------------------------------------------------------------------


def test_off_mode_still_makes_real_trace_ids() -> None:
    telemetry = setup_telemetry("accounts", settings(TelemetryMode.OFF), set_global=False)
    with telemetry.tracer("t").start_as_current_span("work") as span:
        inside = current_trace_id()
    telemetry.shutdown()
    assert inside == format(span.get_span_context().trace_id, "032x")
    assert inside != "0" * 32
    assert current_trace_id() == "0" * 32


def test_file_mode_writes_one_json_line_per_span(tmp_path: Path) -> None:
    path = tmp_path / "telemetry" / "spans.jsonl"
    telemetry = setup_telemetry(
        "earn", settings(TelemetryMode.FILE, telemetry_file=str(path)), set_global=False
    )
    tracer = telemetry.tracer("t")
    with (
        tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span("child", attributes={"tamaru.program_id": "p1"}),
    ):
        pass
    with tracer.start_as_current_span("unrelated"):
        pass
    telemetry.shutdown()
    with path.open("a") as handle:
        handle.write('{"trace_id": "cut sho')  # a line a killed process left unfinished

    trace_id = format(parent.get_span_context().trace_id, "032x")
    spans = {span["name"]: span for span in read_spans(path, trace_id)}
    assert set(spans) == {"parent", "child"}
    assert len(list(read_spans(path))) == 3
    child, top = spans["child"], spans["parent"]
    assert child["parent_span_id"] == top["span_id"]
    assert top["parent_span_id"] is None
    assert top["kind"] == "SERVER"
    assert child["attributes"] == {"tamaru.program_id": "p1"}
    assert child["service"] == "tamaru-earn"
    assert child["start_ns"] <= child["end_ns"]
    assert child["status"]["code"] == "UNSET"


def test_console_mode_prints_spans(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = setup_telemetry("catalog", settings(TelemetryMode.CONSOLE), set_global=False)
    with telemetry.tracer("t").start_as_current_span("browse-items"):
        pass
    telemetry.shutdown()
    out = capsys.readouterr().out
    assert '"name": "browse-items"' in out
    assert "tamaru-catalog" in out


class _Collector(
    trace_service_pb2_grpc.TraceServiceServicer,
    metrics_service_pb2_grpc.MetricsServiceServicer,
):
    """The two OTLP endpoints of a collector, keeping what they receive."""

    def __init__(self) -> None:
        self.span_names: list[str] = []
        self.resources: list[dict[str, str]] = []

    async def Export(self, request: Any, context: Any) -> Any:
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            return metrics_service_pb2.ExportMetricsServiceResponse()
        for resource_spans in request.resource_spans:
            self.resources.append(
                {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            )
            for scope_spans in resource_spans.scope_spans:
                self.span_names.extend(span.name for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_otlp_mode_sends_spans_to_the_collector() -> None:
    collector = _Collector()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        collector, server
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
        collector, server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        telemetry = setup_telemetry(
            "billing",
            Settings(telemetry=TelemetryMode.OTLP, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint),
            set_global=False,
        )
        with telemetry.tracer("t").start_as_current_span("monthly-invoice"):
            pass
        # The exporter makes blocking gRPC calls; keep the loop free to serve them.
        await asyncio.to_thread(telemetry.shutdown)
    finally:
        await server.stop(0)
    assert collector.span_names == ["monthly-invoice"]
    assert collector.resources[0]["service.name"] == "tamaru-billing"


# --- propagation over message headers -------------------------------------------------------


def test_headers_carry_the_trace_to_a_consumer() -> None:
    telemetry = setup_telemetry("redeem", settings(TelemetryMode.OFF), set_global=False)
    tracer = telemetry.tracer("t")
    with tracer.start_as_current_span("publish") as producer:
        headers = {"Nats-Msg-Id": "evt-1"}
        returned = inject_headers(headers)
    assert returned is headers
    assert headers["Nats-Msg-Id"] == "evt-1"
    producer_context = producer.get_span_context()
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{producer_context.trace_id:032x}",
        f"{producer_context.span_id:016x}",
    )
    assert int(flags, 16) & 1  # sampled
    # Another client may capitalise header names.
    received = {"Traceparent": headers["traceparent"]}
    with tracer.start_as_current_span("consume", context=extract_context(received)) as consumer:
        pass
    consumer_parent = consumer.parent  # type: ignore[attr-defined]
    assert consumer.get_span_context().trace_id == producer_context.trace_id
    assert consumer_parent.span_id == producer_context.span_id


def test_no_trace_means_no_headers_and_a_fresh_root() -> None:
    assert inject_headers() == {}
    assert trace.get_current_span(extract_context({"x": "1"})).get_span_context().is_valid is False
    assert trace.get_current_span(extract_context(None)).get_span_context().is_valid is False


# --- logging ------------------------------------------------------------------------------------


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_json_log_lines_carry_service_trace_program_and_extras() -> None:
    telemetry = setup_telemetry("accounts", settings(TelemetryMode.OFF), set_global=False)
    stream = io.StringIO()
    configure_logging("accounts", "INFO", "json", stream=stream)
    log = logging.getLogger("tamaru.test")
    with telemetry.tracer("t").start_as_current_span("credit") as span, bind_program_id("p7"):
        log.info("credited %d points", 120, extra={"account_id": "a-1"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.debug("not at INFO")
    log.warning("outside")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["credited 120 points", "failed", "outside"]
    first, failed, outside = lines
    span_context = span.get_span_context()
    assert first["level"] == "INFO"
    assert first["logger"] == "tamaru.test"
    assert first["service"] == "accounts"
    assert first["program_id"] == "p7"
    assert first["trace_id"] == format(span_context.trace_id, "032x")
    assert first["span_id"] == format(span_context.span_id, "016x")
    assert first["account_id"] == "a-1"
    assert first["ts"].endswith("Z")
    assert "exc_info" not in first
    assert "ValueError: boom" in failed["exc_info"]
    assert (outside["trace_id"], outside["program_id"]) == (None, None)


@pytest.mark.usefixtures("restore_root_logger")
def test_text_format_and_reconfiguring_replaces_only_our_handler() -> None:
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    configure_logging("earn", "INFO", "json", stream=io.StringIO())
    stream = io.StringIO()
    configure_logging("earn", "DEBUG", "text", stream=stream)
    with bind_program_id("p3"):
        logging.getLogger("tamaru.test").debug("hello")
    root_handlers = logging.getLogger().handlers
    assert other in root_handlers
    assert sum(1 for h in root_handlers if h.get_name() == "tamaru") == 1
    line = stream.getvalue().strip()
    assert "DEBUG" in line
    assert line.endswith("tamaru.test: hello [program=p3]")
    with pytest.raises(ValueError, match="json"):
        configure_logging("earn", "INFO", "yaml")  # type: ignore[arg-type]
