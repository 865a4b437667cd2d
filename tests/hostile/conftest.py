"""Every service with a gRPC API, started in-process on the session's PostgreSQL and NATS, with
their logs and spans captured, and the programs the hostile tests attack. Everything here lives
as long as the tests/hostile package runs (the root logger goes back to its level after it).

- `fuzz_program`: seeded; generated requests aim at it (with its admin key).
- `tenant_programs`: two seeded programs; B's keys try to reach A's data.
- `roles_program`: keys for every role (platform included); minimal requests only.
The secret-scanning tests run after all other hostile tests, so they see everything they logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.messaging.streams import ensure_events_stream
from tests.hostile.discovery import services_under_test
from tests.hostile.proto_strategies import Vocabulary, field_names
from tests.hostile.seeding import COMMON_VALUES, SeededProgram, new_program, seed_program
from tests.hostile.stack import HostileStack, hostile_stack
from tests.hostile.telemetry_capture import Capture
from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)
from tests.support.services import TestProgram

RUN_LAST_MARKER = "hostile_run_last"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{RUN_LAST_MARKER}: run after every other hostile test (tests/hostile)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Only the hostile tests' own order changes: they keep their slots in the session.
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if item.path.is_relative_to(here)]
    hostile = [items[i] for i in slots]
    ordered = [t for t in hostile if not t.get_closest_marker(RUN_LAST_MARKER)] + [
        t for t in hostile if t.get_closest_marker(RUN_LAST_MARKER)
    ]
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@pytest.fixture(scope="package")
def capture() -> Iterator[Capture]:
    recorder = Capture()
    recorder.start()
    yield recorder
    recorder.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def hostile_nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def hostile_js(hostile_nc: Client) -> JetStreamContext:
    js = hostile_nc.jetstream()
    await ensure_events_stream(js)
    return js


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    database_url: str, nats_url: str, hostile_js: JetStreamContext, capture: Capture
) -> AsyncIterator[HostileStack]:
    services = services_under_test()
    assert services, "no service defines a gRPC API (services/<name>/app.py grpc_service_names)"
    async with hostile_stack(services, database_url, nats_url, hostile_js, capture) as running:
        yield running


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def fuzz_program(stack: HostileStack) -> SeededProgram:
    return await seed_program(stack, await new_program(stack.js, stack.names))


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def tenant_programs(stack: HostileStack) -> tuple[SeededProgram, SeededProgram]:
    a = await seed_program(stack, await new_program(stack.js, stack.names))
    b = await seed_program(stack, await new_program(stack.js, stack.names))
    return a, b


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def roles_program(stack: HostileStack) -> TestProgram:
    return await new_program(stack.js, stack.names, platform_key=True)


@pytest.fixture(scope="package")
def vocabulary(stack: HostileStack, fuzz_program: SeededProgram) -> Vocabulary:
    names: set[str] = set()
    for service in stack.services:
        for rpc in service.rpcs:
            names |= field_names(rpc.request)
    return Vocabulary(
        strings=tuple(dict.fromkeys([*fuzz_program.ids, *COMMON_VALUES])),
        by_kind=tuple((kind, tuple(values)) for kind, values in fuzz_program.by_kind.items()),
        field_names=tuple(sorted(names)),
    )
