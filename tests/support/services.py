"""Run real services in the test process and create programs with API keys for them.

`running_service(definition, database_url, nats_url)` starts a `ServiceApp` exactly as
`python -m services.<name>` does (migrations, NATS, outbox relay, config watcher, gRPC on a free
port); `create_program(js, services, spec)` publishes a program through the same path as
`tamaructl apply` and waits until every named service applied it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from nats.js import JetStreamContext

from runtime.auth import Role, generate_api_key
from runtime.config import Environment, Settings
from runtime.programs.publisher import publish_program, wait_for_reports
from runtime.programs.spec import parse_spec
from runtime.service import ServiceApp, ServiceDefinition
from runtime.telemetry.setup import Telemetry, setup_telemetry

ALL_ROLES = (Role.ADMIN, Role.GRANTER, Role.BACKEND, Role.READONLY)


def test_settings(database_url: str, nats_url: str, **overrides: Any) -> Settings:
    """Settings for a service started by a test (a helper; pytest must not collect it)."""
    values: dict[str, Any] = {
        "env": Environment.DEV,
        "database_url": database_url,
        "nats_url": nats_url,
        "grpc_host": "127.0.0.1",
        "grpc_port": 0,
        "shutdown_grace_seconds": 2.0,
        "log_format": "text",
        **overrides,
    }
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]


@asynccontextmanager
async def running_service(
    definition: ServiceDefinition,
    database_url: str,
    nats_url: str,
    *,
    with_telemetry: Telemetry | None = None,
    **overrides: Any,
) -> AsyncIterator[ServiceApp]:
    """`overrides` are Settings fields; `with_telemetry` replaces the service's providers
    (tests pass one with an in-memory span exporter)."""
    settings = test_settings(database_url, nats_url, **overrides)
    telemetry = with_telemetry or setup_telemetry(definition.name, settings, set_global=False)
    app = ServiceApp(definition, settings, telemetry=telemetry)
    await app.start()
    _RUNNING.add(app)
    try:
        yield app
    finally:
        _RUNNING.discard(app)
        await app.stop()


# Every service instance this test process runs. Several instances of one service can share a
# NATS server (session fixtures of different packages); the status bucket keeps one report per
# service, so `create_program` also waits for each instance itself.
_RUNNING: set[ServiceApp] = set()


def _server_of(js: JetStreamContext) -> int | None:
    url = js._nc.connected_url
    return url.port if url is not None else None


async def wait_until_applied(
    js: JetStreamContext,
    services: Sequence[str],
    program_id: str,
    revision: int,
    timeout: float = 20,
) -> None:
    """Wait for every instance of `services` connected to the same NATS server as `js`."""
    deadline = time.monotonic() + timeout
    server = _server_of(js)
    while True:
        behind = [
            app.definition.name
            for app in _RUNNING
            if app.definition.name in services
            and app.ctx is not None
            and _server_of(app.ctx.js) == server
            and (app.applied_revision(program_id) or 0) < revision
        ]
        if not behind:
            return
        assert time.monotonic() < deadline, f"{behind} did not apply {program_id}@{revision}"
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class TestProgram:
    __test__ = False  # a helper, not a test class for pytest to collect
    program_id: str
    keys: Mapping[Role, str]
    revision: int

    def metadata(self, role: Role = Role.ADMIN) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.keys[role]}")]


def minimal_spec(program_id: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "programId": program_id,
        "displayName": f"Test program {program_id}",
        "pointName": "Points",
        "timeZone": "Asia/Tokyo",
        "apiKeys": {"roles": [r.value for r in ALL_ROLES]},
    }
    spec.update(overrides)
    return spec


async def create_program(
    js: JetStreamContext,
    services: Sequence[str],
    *,
    program_id: str | None = None,
    closed: bool = False,
    keys: Mapping[Role, str] | None = None,
    **spec_overrides: Any,
) -> TestProgram:
    """Publish a program (validated like a manifest) and wait for `services` to apply it."""
    program_id = program_id or f"t{secrets.token_hex(5)}"
    spec = parse_spec(minimal_spec(program_id, **spec_overrides))
    keys = dict(keys or {role: generate_api_key(program_id, role) for role in ALL_ROLES})
    record, revision = await publish_program(
        js,
        program_id=program_id,
        spec=spec.to_document(),
        keys={role.value: key for role, key in keys.items()},
        closed=closed,
    )
    outcome = await wait_for_reports(
        js,
        program_id=program_id,
        revision=revision,
        generation=record.generation,
        services=services,
        timeout=20,
    )
    assert outcome.ready, f"program {program_id} not applied: {outcome}"
    await wait_until_applied(js, services, program_id, revision)
    return TestProgram(program_id=program_id, keys=keys, revision=revision)


@asynccontextmanager
async def channel_to(app: ServiceApp) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield channel
