"""The system under test, as it runs on one machine: a fresh database on the PostgreSQL server
`runtime.devstack` finds (or starts), a NATS server of our own, and each service as a separate
`python -m services.<name>` process, so the load generator never shares its Python process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import nats
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client
from nats.js import JetStreamContext

from runtime.auth import Role, generate_api_key
from runtime.devstack import (
    DevStackError,
    NatsServer,
    drop_database,
    ensure_database,
    find_or_start_postgres,
    free_port,
    libpq_url,
    shown,
    with_database,
)
from runtime.devstack.net import LOCALHOST, wait_for_port
from runtime.devstack.processes import die_with_parent
from runtime.programs.publisher import publish_program, wait_for_reports
from runtime.programs.spec import parse_spec

ROLES = (Role.ADMIN, Role.BACKEND)


@dataclass(frozen=True)
class BenchProgram:
    program_id: str
    keys: Mapping[Role, str]

    def metadata(self, role: Role = Role.BACKEND) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.keys[role]}"),)


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def target(self) -> str:
        return f"{LOCALHOST}:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class BenchStack:
    """Start with `await stack.start(["accounts"])`, stop with `await stack.stop()`.

    `server_url` / `nats_url` reuse servers someone else runs (the smoke test passes the test
    session's); otherwise PostgreSQL comes from `runtime.devstack` and NATS is started here.
    """

    def __init__(
        self,
        *,
        server_url: str | None = None,
        nats_url: str | None = None,
        database: str | None = None,
        keep_database: bool = False,
        work_dir: Path | None = None,
    ) -> None:
        self._server_url = server_url
        self._external_nats = nats_url
        self.database = database or f"tamaru_bench_{datetime.now(UTC):%Y%m%d_%H%M%S}"
        self._keep_database = keep_database
        self._work_dir = work_dir or Path(".tamaru/bench")
        self._scratch: Path | None = None
        self._nats_server: NatsServer | None = None
        self._nc: Client | None = None
        self.services: dict[str, ServiceProcess] = {}
        self.nats_url = ""
        self.postgres_origin = ""

    # -- what scenarios use ----------------------------------------------------------------

    @property
    def server_url(self) -> str:
        if self._server_url is None:
            raise RuntimeError("the stack has not been started")
        return self._server_url

    @property
    def database_url(self) -> str:
        """SQLAlchemy URL (`postgresql+psycopg://`) of the bench database."""
        return with_database(self.server_url, self.database)

    @property
    def dsn(self) -> str:
        """libpq URL of the bench database, for psycopg."""
        return libpq_url(self.database_url)

    @property
    def js(self) -> JetStreamContext:
        if self._nc is None:
            raise RuntimeError("the stack has not been started")
        return self._nc.jetstream()

    def service(self, name: str) -> ServiceProcess:
        return self.services[name]

    # -- lifecycle -------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """The stack's own processes: every service, and the NATS server it started."""
        pids = [service.pid for service in self.services.values()]
        if self._nats_server is not None and self._nats_server.pid is not None:
            pids.append(self._nats_server.pid)
        return pids

    async def start(self, services: Sequence[str]) -> None:
        try:
            await self._start(services)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, services: Sequence[str]) -> None:
        if self._server_url is None:
            endpoint = await find_or_start_postgres(self._work_dir.resolve() / "postgres")
            self._server_url = endpoint.url
            self.postgres_origin = endpoint.describe("PostgreSQL")
        else:
            self.postgres_origin = f"using PostgreSQL at {shown(self._server_url)}"
        await ensure_database(self.server_url, self.database)
        self._scratch = Path(tempfile.mkdtemp(prefix="tamaru-bench-"))
        if self._external_nats is None:
            self._nats_server = NatsServer(self._scratch / "jetstream")
            await self._nats_server.start()
            self.nats_url = self._nats_server.url
        else:
            self.nats_url = self._external_nats
        self._nc = await nats.connect(self.nats_url, name="tamaru-bench")
        for name in services:
            self.services[name] = await self._start_service(name)

    async def _start_service(self, name: str) -> ServiceProcess:
        assert self._scratch is not None
        port = free_port()
        env = {
            **os.environ,
            "TAMARU_DATABASE_URL": self.database_url,
            "TAMARU_NATS_URL": self.nats_url,
            "TAMARU_GRPC_HOST": LOCALHOST,
            "TAMARU_GRPC_PORT": str(port),
            "TAMARU_LOG_LEVEL": "WARNING",
            "TAMARU_LOG_FORMAT": "text",
            "TAMARU_ENV": "dev",  # migrates the fresh database on start
            "TAMARU_TELEMETRY": "off",  # measured without exporting spans (docs/performance.md)
            "TAMARU_SHUTDOWN_GRACE_SECONDS": "2",  # nothing is in flight when the bench stops it
        }
        log_path = self._scratch / f"{name}.log"
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{name}",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # a killed bench leaves no service behind
            )
        service = ServiceProcess(name, port, process, log_path)
        try:
            await wait_for_port(
                LOCALHOST,
                port,
                timeout=90,
                alive=lambda: process.returncode is None,
                what=f"the {name} service",
            )
            await _wait_serving(service.target, timeout=30)
        except (DevStackError, TimeoutError) as exc:
            raise DevStackError(f"{exc}; its log ends with:\n{service.log_tail()}") from None
        return service

    async def stop(self) -> None:
        for service in self.services.values():
            await _terminate(service.process)
        self.services.clear()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None
        if self._nats_server is not None:
            await self._nats_server.stop()
            self._nats_server = None
        if self._server_url is not None and not self._keep_database:
            with contextlib.suppress(Exception):
                await drop_database(self.server_url, self.database)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- programs --------------------------------------------------------------------------

    async def create_program(
        self, services: Sequence[str], *, prefix: str = "bench", **spec: Any
    ) -> BenchProgram:
        """Publish a program to the KV bucket (as `tamaructl apply` does) and wait until
        every service in `services` applied it."""
        program_id = f"{prefix}-{secrets.token_hex(3)}"
        document = {
            "programId": program_id,
            "displayName": f"Benchmark {program_id}",
            "pointName": "Points",
            "timeZone": "Asia/Tokyo",
            "apiKeys": {"roles": [r.value for r in ROLES]},
            **spec,
        }
        keys = {role: generate_api_key(program_id, role) for role in ROLES}
        record, revision = await publish_program(
            self.js,
            program_id=program_id,
            spec=parse_spec(document).to_document(),
            keys={role.value: key for role, key in keys.items()},
            closed=False,
        )
        outcome = await wait_for_reports(
            self.js,
            program_id=program_id,
            revision=revision,
            generation=record.generation,
            services=services,
            timeout=30,
        )
        if not outcome.ready:
            raise DevStackError(f"program {program_id} was not applied: {outcome}")
        return BenchProgram(program_id, keys)


async def _wait_serving(target: str, *, timeout: float) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{target} did not report SERVING in {timeout}s")
            await asyncio.sleep(0.1)


async def _terminate(process: asyncio.subprocess.Process, grace: float = 15.0) -> None:
    """SIGTERM (the service drains and flushes its outbox), SIGKILL after `grace`."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace)
    except TimeoutError:
        process.kill()
        await process.wait()
