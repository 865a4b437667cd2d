"""Fixtures for the operator tests: the real operator (kopf, in a thread) against a Kubernetes
API double (kmock), a real NATS, and the real service-side config watchers of the five services,
each applying to its own `program_configs` table in PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import kopf
import nats
import pytest
import pytest_asyncio
import yaml
from kopf.testing import KopfRunner
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from runtime.auth import KeyRing
from runtime.config import SERVICES, load_settings
from runtime.db.base import Base
from runtime.db.engine import make_async_engine, make_session_factory, make_sync_engine
from runtime.db.plumbing import PLUMBING_TABLES
from runtime.db.unit_of_work import UnitOfWork
from runtime.programs.record import ProgramRecord
from runtime.programs.watcher import ProgramConfigWatcher
from tests.operator.cluster_double import ApiServerDouble, KubeClient, declare_resources

# Own NATS and database: the operator's watchers replay every program in the bucket, and the
# resilience tests restart the server.
from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)

HANDLERS = Path(__file__).resolve().parents[2] / "operator" / "tamaru_operator" / "handlers.py"
# A point name billing's apply hook refuses: how a real service error reaches the status.
BROKEN_POINT_NAME = "Broken"


@dataclass
class ServiceSide:
    """The five services' config watchers and their databases."""

    js: JetStreamContext
    session_factories: dict[str, async_sessionmaker[AsyncSession]]
    watchers: dict[str, ProgramConfigWatcher] = field(default_factory=dict)

    async def start_watcher(self, service: str) -> None:
        factory = self.session_factories[service]
        watcher = ProgramConfigWatcher(
            self.js, service, lambda: UnitOfWork(factory, service), KeyRing(), _apply_hook(service)
        )
        await watcher.start()
        self.watchers[service] = watcher

    async def stop_watcher(self, service: str) -> None:
        await self.watchers.pop(service).stop()

    async def rows(self, program_id: str) -> dict[str, dict[str, Any]]:
        """Each service's `program_configs` row for the program."""
        found = {}
        for service, factory in self.session_factories.items():
            async with factory() as session:
                row = (
                    await session.execute(
                        text(
                            "SELECT revision, generation, closed FROM program_configs "
                            "WHERE program_id = :p"
                        ),
                        {"p": program_id},
                    )
                ).first()
            if row is not None:
                found[service] = {"revision": row[0], "generation": row[1], "closed": row[2]}
        return found


def _schema(service: str) -> str:
    return f"operator_test_{service}"


@pytest.fixture(scope="session")
def service_schemas(database_url: str) -> dict[str, str]:
    schemas = {}
    for service in SERVICES:
        schema = _schema(service)
        engine = make_sync_engine(database_url, schema=schema)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        Base.metadata.create_all(engine, tables=PLUMBING_TABLES)
        engine.dispose()
        schemas[service] = schema
    return schemas


def _apply_hook(service: str) -> Callable[[UnitOfWork, ProgramRecord], Awaitable[None]]:
    async def hook(uow: UnitOfWork, record: ProgramRecord) -> None:
        if service == "billing" and record.spec.get("pointName") == BROKEN_POINT_NAME:
            raise ValueError(f"billing cannot invoice points named {BROKEN_POINT_NAME!r}")

    return hook


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service_side(
    database_url: str, service_schemas: dict[str, str], nats_url: str
) -> AsyncIterator[ServiceSide]:
    client = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    engines: list[AsyncEngine] = []
    side = ServiceSide(js=client.jetstream(), session_factories={})
    for service, schema in service_schemas.items():
        engine = make_async_engine(database_url, schema=schema, pool_size=2)
        engines.append(engine)
        side.session_factories[service] = make_session_factory(engine)
        await side.start_watcher(service)
    yield side
    for service in list(side.watchers):
        await side.stop_watcher(service)
    for engine in engines:
        await engine.dispose()
    await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def api_server() -> AsyncIterator[kmock.KubernetesEmulator]:
    async with ApiServerDouble() as api, kmock.Server(api):
        declare_resources(api)
        yield api


@pytest.fixture
def kube(api_server: kmock.KubernetesEmulator) -> KubeClient:
    return KubeClient(str(api_server.url))


class OperatorRun:
    """The operator as `kopf run --standalone -A handlers.py`, in a thread of this process."""

    def __init__(self) -> None:
        self.runner: KopfRunner | None = None
        self._saved: tuple[list[str], list[logging.Handler], int] | None = None

    async def start(self) -> None:
        assert self.runner is None
        # kopf puts the handlers' directory first on sys.path and reconfigures the root logger
        # (level, a stream handler); stop() puts both back for the rest of the test session.
        root = logging.getLogger()
        self._saved = (list(sys.path), list(root.handlers), root.level)
        # A fresh registry: kopf loads handlers.py anew into it, so each run has its handlers
        # exactly once (the default registry lives as long as the test process).
        self.runner = KopfRunner(
            ["run", "--standalone", "-A", "--verbose", str(HANDLERS)],
            registry=kopf.OperatorRegistry(),
        )
        self.runner.__enter__()

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is None:
            return
        # Joining the thread blocks; the API double it may still talk to lives on this loop.
        await asyncio.to_thread(runner.__exit__, None, None, None)
        if self._saved is not None:
            path, handlers, level = self._saved
            sys.path[:] = path
            logging.getLogger().handlers[:] = handlers
            logging.getLogger().setLevel(level)
        assert runner.exception is None, runner.output
        assert runner.exit_code == 0, runner.output


@pytest.fixture
def operator_env() -> dict[str, str]:
    """TAMARU_OPERATOR_* for the run: quick re-checks and retries (override per module)."""
    return {
        "TAMARU_OPERATOR_RECHECK_SECONDS": "1",
        "TAMARU_OPERATOR_REPORT_WAIT_SECONDS": "2",
        "TAMARU_OPERATOR_RETRY_DELAY_SECONDS": "0.5",
        "TAMARU_OPERATOR_SETTLE_SECONDS": "30",
    }


@pytest_asyncio.fixture(loop_scope="session")
async def operator(
    api_server: kmock.KubernetesEmulator,
    service_side: ServiceSide,
    nats_url: str,
    operator_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[OperatorRun]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "double", "cluster": {"server": str(api_server.url)}}],
                "users": [{"name": "operator", "user": {"token": "test-token"}}],
                "contexts": [
                    {"name": "double", "context": {"cluster": "double", "user": "operator"}}
                ],
                "current-context": "double",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("TAMARU_NATS_URL", nats_url)
    for name, value in operator_env.items():
        monkeypatch.setenv(name, value)
    load_settings.cache_clear()
    run = OperatorRun()
    await run.start()
    try:
        yield run
    finally:
        await run.stop()
        load_settings.cache_clear()


@pytest.fixture
def program_name() -> str:
    return f"prog-{secrets.token_hex(4)}"
