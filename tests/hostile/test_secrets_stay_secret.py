"""API keys are only ever stored hashed, and no key or member email reaches the logs or spans.

Runs after every other hostile test (marker `hostile_run_last`), so the logs and spans it searches
are those of the whole hostile session: seeding, fuzzing, the tenant and role matrices, with the
root logger at DEBUG.
"""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import text

from runtime.auth import hash_api_key
from runtime.messaging.streams import PROGRAMS_BUCKET
from tests.hostile.seeding import SeededProgram
from tests.hostile.stack import HostileStack
from tests.support.services import TestProgram

pytestmark = pytest.mark.hostile_run_last


def _keys(*programs: TestProgram) -> dict[str, str]:
    """Plain key -> `program/role`, for every key of the hostile programs."""
    return {key: f"{p.program_id}/{role}" for p in programs for role, key in p.keys.items()}


@pytest.fixture
def every_program(
    fuzz_program: SeededProgram,
    tenant_programs: tuple[SeededProgram, SeededProgram],
    roles_program: TestProgram,
) -> list[TestProgram]:
    return [fuzz_program.program, *(p.program for p in tenant_programs), roles_program]


@pytest.fixture
def emails(
    fuzz_program: SeededProgram, tenant_programs: tuple[SeededProgram, SeededProgram]
) -> list[str]:
    found = [*fuzz_program.emails, *(e for p in tenant_programs for e in p.emails)]
    assert found, "seeding enrolled no member with an email: nothing to look for"
    return found


async def test_api_keys_are_stored_only_as_hashes(
    stack: HostileStack, every_program: list[TestProgram]
) -> None:
    keys = _keys(*every_program)
    engine = next(iter(stack.apps.values())).ctx.engine  # type: ignore[union-attr]
    schemas = stack.names
    found: list[str] = []
    async with engine.connect() as connection:
        tables = (
            await connection.execute(
                text(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE'"
                ),
                {"schemas": schemas},
            )
        ).all()
        assert tables, f"no tables found in schemas {schemas}"
        for schema, table in tables:
            hits = await connection.scalar(
                text(
                    f'SELECT count(*) FROM "{schema}"."{table}" AS t WHERE EXISTS '
                    "(SELECT 1 FROM unnest(CAST(:keys AS text[])) AS k "
                    "WHERE strpos(CAST(t AS text), k) > 0)"
                ),
                {"keys": list(keys)},
            )
            if hits:
                found.append(f"{schema}.{table}: {hits} row(s)")
        # The hashes are there, so the search above looked where keys would be.
        for schema in schemas:
            config_rows = f'"{schema}".program_configs'
            records = await connection.scalar(
                text(f"SELECT string_agg(CAST(record AS text), ' ') FROM {config_rows}")
            )
            missing = [who for key, who in keys.items() if hash_api_key(key) not in (records or "")]
            assert not missing, f"{schema}.program_configs lacks the key hashes of {missing}"

    bucket_stream = f"KV_{PROGRAMS_BUCKET}"  # every revision of every program's record
    stream = await stack.js.stream_info(bucket_stream)
    messages = 0
    for seq in range(stream.state.first_seq, stream.state.last_seq + 1):
        try:
            message = await stack.js.get_msg(bucket_stream, seq)
        except NotFoundError:
            continue  # superseded beyond the bucket's history
        messages += 1
        raw = message.data or b""
        found += [
            f"KV {message.subject} holds {who}" for key, who in keys.items() if key.encode() in raw
        ]
    assert messages, "the program config bucket is empty: nothing was searched"
    assert not found, f"plain API keys stored at rest: {found}"


async def test_no_key_or_email_in_the_logs(
    stack: HostileStack, every_program: list[TestProgram], emails: list[str]
) -> None:
    secrets = {**_keys(*every_program), **{email: "member email" for email in emails}}
    lines = 0
    rpc_lines = 0
    leaks: list[str] = []
    for record, line in stack.capture.log_lines():
        lines += 1
        rpc_lines += record.name == "tamaru.grpc"
        leaks += [
            f"{what} in {record.name}: {line[:300]}" for s, what in secrets.items() if s in line
        ]
    assert rpc_lines >= 10, f"only {rpc_lines} RPC log lines of {lines} were captured"
    assert not leaks, f"{len(leaks)} log lines carry secrets, e.g. {leaks[:5]}"


async def test_no_key_or_email_in_the_spans(
    stack: HostileStack, every_program: list[TestProgram], emails: list[str]
) -> None:
    secrets = {**_keys(*every_program), **{email: "member email" for email in emails}}
    spans = 0
    leaks: list[str] = []
    for span, rendered in stack.capture.span_texts():
        spans += 1
        leaks += [
            f"{what} in span {span.name}: {rendered[:300]}"
            for s, what in secrets.items()
            if s in rendered
        ]
    assert spans >= 10, f"only {spans} spans were captured"
    assert not leaks, f"{len(leaks)} spans carry secrets, e.g. {leaks[:5]}"
