"""Tracing and logging across a real gRPC call: the server span joins the client's trace, carries
the caller's program, and neither spans nor log lines ever contain an API key."""

from __future__ import annotations

import re
from collections.abc import Iterator

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from runtime.config import Settings, TelemetryMode
from runtime.telemetry import Telemetry, setup_telemetry
from tamaru.testing.v1 import echo_pb2
from tests.runtime.echo_server import ECHO, SERVICE, auth, capture_json_logs, serve_echo


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def telemetry(exporter: InMemorySpanExporter) -> Iterator[Telemetry]:
    telemetry = setup_telemetry(
        "echo", Settings(telemetry=TelemetryMode.OFF), span_exporter=exporter, set_global=False
    )
    yield telemetry
    telemetry.shutdown()


def only(spans: list[ReadableSpan], kind: SpanKind, name: str) -> ReadableSpan:
    matching = [span for span in spans if span.kind is kind and span.name == name]
    assert len(matching) == 1, [(span.kind, span.name) for span in spans]
    return matching[0]


async def test_server_span_is_a_child_of_the_client_span(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    tracer = telemetry.tracer("test")
    with capture_json_logs() as logs:
        async with serve_echo(tracer_provider=telemetry.tracer_provider) as echo:
            with tracer.start_as_current_span("checkout") as operation:
                await echo.stub.Echo(
                    echo_pb2.EchoRequest(message="hi", idempotency_key="idem-42"),
                    metadata=auth(echo.keys.p2_backend),
                )
    spans = list(exporter.get_finished_spans())
    client = only(spans, SpanKind.CLIENT, ECHO)
    server = only(spans, SpanKind.SERVER, ECHO)
    operation_context = operation.get_span_context()
    assert client.parent is not None
    assert server.parent is not None
    assert client.parent.span_id == operation_context.span_id
    assert server.parent.span_id == client.context.span_id
    assert server.context.trace_id == operation_context.trace_id
    assert server.attributes is not None
    assert server.attributes["tamaru.program_id"] == "p2"
    assert server.attributes["tamaru.idempotency_key"] == "idem-42"
    assert server.resource.attributes["service.name"] == "tamaru-echo"

    rpc_lines = [r for r in logs.records() if r.get("method") == ECHO]
    assert len(rpc_lines) == 1
    line = rpc_lines[0]
    assert line["code"] == "OK"
    assert line["program_id"] == "p2"
    assert line["trace_id"] == format(server.context.trace_id, "032x")
    assert line["span_id"] == format(server.context.span_id, "016x")
    assert isinstance(line["duration_ms"], float)


async def test_error_message_names_the_trace_of_the_call(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    tracer = telemetry.tracer("test")
    async with serve_echo(tracer_provider=telemetry.tracer_provider) as echo:
        with (
            tracer.start_as_current_span("grant") as operation,
            pytest.raises(grpc.aio.AioRpcError) as caught,
        ):
            await echo.stub.Fail(
                echo_pb2.FailRequest(kind="unexpected"), metadata=auth(echo.keys.p1_admin)
            )
    trace_id = format(operation.get_span_context().trace_id, "032x")
    assert caught.value.details() == f"internal error; give support trace_id={trace_id}"
    server = only(
        list(exporter.get_finished_spans()), SpanKind.SERVER, f"/{SERVICE.full_name}/Fail"
    )
    assert server.status.is_ok is False
    assert any(event.name == "exception" for event in server.events)


async def test_no_key_in_any_span_or_log_line(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    unknown_key = "tmr_admin_" + "q" * 43
    with capture_json_logs() as logs:
        async with serve_echo(tracer_provider=telemetry.tracer_provider) as echo:
            keys = [*echo.keys.all(), unknown_key]
            for key in keys:
                try:
                    await echo.stub.Echo(echo_pb2.EchoRequest(message="x"), metadata=auth(key))
                    await echo.stub.Fail(
                        echo_pb2.FailRequest(kind="unexpected"), metadata=auth(key)
                    )
                except grpc.aio.AioRpcError:
                    pass
    # Each key's random part; the prefix alone ("tmr_admin_") is no secret.
    secrets = [key.split("_", 2)[2] for key in keys]
    span_text = repr(
        [
            (
                span.name,
                dict(span.attributes or {}),
                [dict(e.attributes or {}) for e in span.events],
            )
            for span in exporter.get_finished_spans()
        ]
    )
    log_text = "\n".join(logs.lines())
    assert len(logs.lines()) >= len(keys) * 2  # the calls really were logged
    assert re.search(r'"program_id": "p1"', log_text)
    for secret in secrets:
        assert secret not in span_text
        assert secret not in log_text
