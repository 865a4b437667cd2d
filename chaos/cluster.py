"""The system under test: a PostgreSQL and a NATS of its own and each service as a process, all
on 127.0.0.1, with the primitives the nemesis uses (kill, restart, partition, slow link, clock
skew) and `heal()` before checking.

Each service reaches PostgreSQL and NATS through links of its own (`chaos.proxy.LinkProxy`), so
one service can be cut off while the others, and the test's own clients and checks (which
connect directly), are not.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from chaos.clock import skewed_clock_env
from chaos.postgres import ChaosPostgres
from chaos.processes import ServiceProcess
from chaos.proxy import LinkProxy
from runtime.devstack import NatsServer, ensure_database, free_port, postgres_reachable

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "tamaru_chaos"


class ClusterError(RuntimeError):
    """The cluster could not be brought up (or healed); the message names the part."""


@dataclass
class Cluster:
    work_dir: Path
    service_names: tuple[str, ...]
    postgres: ChaosPostgres = field(init=False)
    nats: NatsServer = field(init=False)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    database_url: str = ""
    # (service, "postgres" | "nats") -> the link that service reaches it through
    links: dict[tuple[str, str], LinkProxy] = field(default_factory=dict)
    clock_offsets: dict[str, float] = field(default_factory=dict)  # service -> seconds off
    _true_env: dict[str, dict[str, str]] = field(default_factory=dict)  # without a fake clock

    def __post_init__(self) -> None:
        self.postgres = ChaosPostgres(self.work_dir / "postgres")
        # Detached: its own session and no `preexec_fn` (Python code run in a child forked
        # from a process with gRPC threads can crash); `stop()` ends it.
        self.nats = NatsServer(self.work_dir / "nats", detach=True)

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def address(self, service: str) -> str:
        return self.services[service].address

    async def start(self) -> None:
        await self.postgres.start()
        self.database_url = await ensure_database(self.postgres.url, DATABASE)
        await self.nats.start()
        for name in self.service_names:
            port = free_port()
            env = await self._env(name, port)
            self.services[name] = ServiceProcess(
                name, port, env, log_file=self.work_dir / f"{name}.log", cwd=ROOT
            )
        # The first start of each service migrates its own schema (under its own advisory
        # lock) on the way up: a separate `python -m services.<name> migrate` round would cost
        # a second interpreter start per service (about 20 s on a busy 2-core machine).
        # Restarts by the nemesis never migrate.
        for process in self.services.values():
            process.env["TAMARU_MIGRATE_ON_START"] = "true"
        await asyncio.gather(*(s.start() for s in self.services.values()))
        await self.wait_serving(timeout=180)
        for name, process in self.services.items():
            process.env["TAMARU_MIGRATE_ON_START"] = "false"
            self._true_env[name] = dict(process.env)

    async def _env(self, service: str, port: int) -> dict[str, str]:
        db = make_url(self.database_url)
        pg_link = await self._link(service, "postgres", db.host or "127.0.0.1", db.port or 5432)
        nats_link = await self._link(service, "nats", self.nats.host, self.nats.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TAMARU_", "OTEL_"))}
        env.update(
            TAMARU_ENV="dev",  # redeem's sandbox payment gateway
            TAMARU_DATABASE_URL=db.set(host="127.0.0.1", port=pg_link.port).render_as_string(
                hide_password=False
            ),
            TAMARU_NATS_URL=f"nats://127.0.0.1:{nats_link.port}",
            TAMARU_GRPC_HOST="127.0.0.1",
            TAMARU_GRPC_PORT=str(port),
            TAMARU_LOG_LEVEL="WARNING",
            TAMARU_LOG_FORMAT="text",
            TAMARU_MIGRATE_ON_START="false",
            TAMARU_TELEMETRY="off",
            TAMARU_SHUTDOWN_GRACE_SECONDS="2",
            TAMARU_DB_POOL_SIZE="5",
            PYTHONUNBUFFERED="1",
            GRPC_ENABLE_FORK_SUPPORT="false",
        )
        return env

    async def _link(self, service: str, to: str, host: str, port: int) -> LinkProxy:
        link = LinkProxy(f"{service}->{to}", host, port)
        await link.start()
        self.links[(service, to)] = link
        return link

    async def wait_serving(self, timeout: float) -> None:
        names = list(self.services)
        ok = await asyncio.gather(*(self.services[n].wait_serving(timeout) for n in names))
        slow = [n for n, up in zip(names, ok, strict=True) if not up]
        if slow:
            raise ClusterError(
                f"not serving after {timeout:g}s: {', '.join(slow)}; see {self.work_dir}/<name>.log"
            )

    # ---- faults ---------------------------------------------------------------------------

    async def kill_service(self, name: str) -> None:
        await self.services[name].kill()

    async def start_service(self, name: str) -> None:
        await self.services[name].start()

    async def cut(self, service: str, to: tuple[str, ...]) -> None:
        """Partition `service` from PostgreSQL and/or NATS (`to`); `heal_links` ends it."""
        for what in to:
            self.links[(service, what)].cut()

    async def slow(self, service: str, to: tuple[str, ...], delay: float) -> None:
        for what in to:
            self.links[(service, what)].slow(delay)

    async def heal_links(self, service: str | None = None) -> None:
        for (name, _), link in self.links.items():
            if service is None or name == service:
                link.heal()

    async def restart_service(self, name: str, *, clock_offset: float = 0.0) -> None:
        """Graceful restart (so what follows is the clock's doing, not a kill's), with the
        process's wall clock `clock_offset` seconds off (libfaketime); 0 = the true clock."""
        process = self.services[name]
        await process.stop(grace=5.0)
        process.env = {**self._true_env[name], **skewed_clock_env(clock_offset)}
        self.clock_offsets[name] = clock_offset
        await process.start()

    async def stop_nats(self) -> None:
        await self.nats.stop()

    async def start_nats(self) -> None:
        await self.nats.start()

    async def stop_postgres(self) -> None:
        await self.postgres.stop()

    async def start_postgres(self) -> None:
        await self.postgres.start()

    async def heal(self, timeout: float = 120) -> None:
        """Everything up again: links, PostgreSQL, NATS, every service serving, true clocks."""
        await self.heal_links()
        for name, offset in self.clock_offsets.items():
            if offset:
                await self.restart_service(name)
        if not await postgres_reachable(self.postgres.url, timeout=2):
            await self.postgres.start()
        if not self.nats.running:
            await self.nats.start()
        await asyncio.gather(*(s.start() for s in self.services.values()))
        await self.wait_serving(timeout)

    async def stop(self) -> None:
        """The checks are done: nothing left to flush, so services are killed, not drained."""
        await asyncio.gather(*(s.kill() for s in self.services.values()))
        await asyncio.gather(*(s.stop() for s in self.services.values()))  # end the watchdogs
        await asyncio.gather(*(link.close() for link in self.links.values()))
        await self.nats.stop()
        await self.postgres.stop()
