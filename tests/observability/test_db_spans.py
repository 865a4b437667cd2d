"""With telemetry exported, every SQL statement is a span of the request that ran it, carrying
the program id (and never the statement's parameters)."""

from __future__ import annotations

from pathlib import Path

import grpc
import nats
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime.config import TelemetryMode
from runtime.telemetry.setup import setup_telemetry
from services.accounts.app import definition as accounts
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tests.support.services import create_program, running_service, test_settings


async def test_statements_are_spans_of_the_request(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    overrides = {"telemetry": TelemetryMode.FILE, "telemetry_file": str(tmp_path / "spans.jsonl")}
    telemetry = setup_telemetry(
        "accounts",
        test_settings(database_url, nats_url, **overrides),
        span_exporter=exporter,
        set_global=False,
    )
    async with running_service(
        accounts, database_url, nats_url, with_telemetry=telemetry, **overrides
    ) as app:
        client = await nats.connect(nats_url)
        program = await create_program(client.jetstream(), ["accounts"])
        await client.close()
        exporter.clear()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = accounts_pb2_grpc.AccountsServiceStub(channel)
            await stub.Verify(accounts_pb2.VerifyRequest(), metadata=program.metadata())
            enrolled = await stub.EnrolMember(
                accounts_pb2.EnrolMemberRequest(idempotency_key="span-m", external_ref="span-m"),
                metadata=program.metadata(),
            )
            await stub.Credit(
                accounts_pb2.CreditRequest(
                    idempotency_key="span-c",
                    member=members_pb2.MemberSelector(account_id=enrolled.member.account_id),
                    amount=10,
                    source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
                ),
                metadata=program.metadata(),
            )
    spans = exporter.get_finished_spans()
    statements = [
        s
        for s in spans
        if (s.attributes or {}).get("db.statement") or (s.attributes or {}).get("db.query.text")
    ]
    # Verify goes through SQLAlchemy; a credit's statements go to psycopg as they are
    # (runtime/db/driver.py) and are spans all the same.
    for method in ("Verify", "Credit"):
        (server,) = [s for s in spans if s.name.endswith(f"AccountsService/{method}")]
        # Background loops (outbox relay, sweepers) run statements in traces of their own.
        in_request = [s for s in statements if s.context.trace_id == server.context.trace_id]
        assert in_request, (method, [s.name for s in spans])
        for span in in_request:
            assert span.parent is not None
            assert (span.attributes or {}).get("tamaru.program_id") == program.program_id
    (credit,) = [s for s in spans if s.name.endswith("AccountsService/Credit")]
    credit_statements = [
        str((s.attributes or {}).get("db.statement"))
        for s in statements
        if s.context.trace_id == credit.context.trace_id
    ]
    assert any("INSERT INTO outbox_events" in text for text in credit_statements)
