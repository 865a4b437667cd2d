"""One redeem order with self-pay is one trace: the client's call, redeem's saga, its NATS
commands to accounts and catalog, the outbox publishes and the billing consumer, with correct
parent/child links and the program id on every span (real services, real NATS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import nats
import pytest_asyncio
from nats.aio.client import Client
from opentelemetry import propagate
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.service import ServiceDefinition
from runtime.telemetry.setup import setup_telemetry
from services.accounts.app import definition as accounts
from services.billing.app import definition as billing
from services.catalog.app import definition as catalog
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.app import make_definition
from services.redeem.entrypoints.wiring import RedeemOptions
from tamaru.accounts.v1 import accounts_pb2
from tamaru.redeem.v1 import orders_pb2
from tests.redeem.shop import Shop, Stubs, lines
from tests.support.services import create_program, running_service, test_settings

EXPORTER = InMemorySpanExporter()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def shop(database_url: str, nats_url: str) -> AsyncIterator[Shop]:
    gateway = SandboxGateway()
    definitions: list[ServiceDefinition] = [
        accounts,
        catalog,
        make_definition(RedeemOptions(gateway=gateway)),
        billing,
    ]
    apps = []
    try:
        for definition in definitions:
            telemetry = setup_telemetry(
                definition.name,
                test_settings(database_url, nats_url),
                span_exporter=EXPORTER,
                set_global=False,
            )
            context = running_service(definition, database_url, nats_url, with_telemetry=telemetry)
            apps.append((context, await context.__aenter__()))
        ports = {app.definition.name: app.port for _, app in apps}
        channels = [
            grpc.aio.insecure_channel(f"127.0.0.1:{ports[name]}")
            for name in ("accounts", "catalog", "redeem")
        ]
        client: Client = await nats.connect(nats_url)
        stubs = Stubs.over(*channels)
        program_shop = await Shop.open(stubs, client.jetstream(), gateway)
        # billing must know the program too before its consumer can charge it
        await create_program(
            client.jetstream(),
            ["accounts", "catalog", "redeem", "billing"],
            program_id=program_shop.program.program_id,
            keys=program_shop.program.keys,
            selfPay={"enabled": True},
            catalog={"useSharedCatalog": False},
        )
        yield program_shop
        await client.close()
        for channel in channels:
            await channel.close()
    finally:
        for context, _ in reversed(apps):
            await context.__aexit__(None, None, None)


def by_trace(trace_id: int) -> list[ReadableSpan]:
    return [s for s in EXPORTER.get_finished_spans() if s.context.trace_id == trace_id]


async def test_self_pay_order_is_one_trace_across_services(shop: Shop) -> None:
    member = await shop.member(points=800)
    await shop.item("TRACE-1", price=1000)
    EXPORTER.clear()

    client = TracerProvider()
    client.add_span_processor(SimpleSpanProcessor(EXPORTER))
    with client.get_tracer("test-client").start_as_current_span("client PlaceOrder") as root:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        request = shop.order_request(member, lines(("TRACE-1", 1)), token="tok_approve")
        reply = await shop.redeem.PlaceOrder(request, metadata=[*shop.md(), *carrier.items()])
    assert reply.order.status == orders_pb2.ORDER_STATUS_CONFIRMED
    assert reply.order.yen_paid == 200
    trace_id = root.get_span_context().trace_id

    wanted = {"tamaru-redeem", "tamaru-accounts", "tamaru-catalog", "tamaru-billing"}

    def services() -> set[Any]:
        return {s.resource.attributes.get("service.name") for s in by_trace(trace_id)}

    for _ in range(100):  # billing consumes the events asynchronously
        if wanted <= services():
            break
        await asyncio.sleep(0.1)
    spans = by_trace(trace_id)
    assert wanted <= services(), sorted(str(s) for s in services())

    ids = {s.context.span_id for s in spans}
    for span in spans:
        if span.name == "client PlaceOrder":
            continue
        assert span.parent is not None, f"{span.name} has no parent"
        assert span.parent.span_id in ids, f"{span.name}'s parent is outside the trace"
        attributes = dict(span.attributes or {})
        assert attributes.get("tamaru.program_id") == shop.program.program_id, span.name

    names = [s.name for s in spans]
    assert any("tamaru.cmd.accounts.PlaceHold" in n for n in names)
    assert any("tamaru.cmd.catalog.ReserveStock" in n for n in names)
    assert any(n.endswith(" publish") for n in names)
    assert any(
        s.resource.attributes.get("service.name") == "tamaru-billing" and n.endswith("process")
        for s, n in zip(spans, names, strict=True)
    )


async def test_no_span_carries_an_api_key_or_an_email(shop: Shop) -> None:
    enrolled = await shop.stubs.accounts.EnrolMember(
        accounts_pb2.EnrolMemberRequest(
            idempotency_key="obs-email", external_ref="obs-email", email="hanako@example.jp"
        ),
        metadata=shop.md(),
    )
    assert enrolled.member.account_id
    secrets = [*shop.program.keys.values(), "hanako@example.jp"]
    spans = EXPORTER.get_finished_spans()
    assert spans
    for span in spans:
        text = repr(dict(span.attributes or {})) + repr([e.attributes for e in span.events])
        for secret in secrets:
            assert secret not in text, f"{span.name} leaks a secret"
