"""`tamaructl dev up [--demo-only]`: the whole system on one machine (`make run`, `make demo`).

PostgreSQL and NATS are the developer's own when reachable, else embedded ones whose data
lives in `.tamaru/`; then migrations, the five services (supervised, output tagged), the
example programs, and the demo. `make run` serves until Ctrl-C; `make demo` exits with the
demo's exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url

from runtime.config import DEFAULT_GRPC_PORTS, SERVICES
from runtime.devstack import (
    DevStackError,
    Endpoint,
    ensure_database,
    find_or_start_nats,
    find_or_start_postgres,
    port_accepts,
    stop_nats,
    stop_postgres,
)
from tamaructl.supervisor import Child, Supervisor, run_step, say

ROOT = Path(__file__).resolve().parent.parent
DATABASE_NAME = "tamaru"
T = TypeVar("T")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while bringing the system up."""


@dataclass
class DevStack:
    root: Path = ROOT
    services: tuple[str, ...] = SERVICES
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_GRPC_PORTS))
    health_timeout: float = 90.0
    # False ignores servers already running and uses embedded ones (what a bare laptop gets).
    use_existing: bool = True
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    supervisor: Supervisor = field(default_factory=Supervisor)
    postgres: Endpoint | None = None
    nats: Endpoint | None = None
    users_grpc_fork_support: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / ".tamaru"

    async def until_stopped(self, step: Awaitable[T]) -> T:
        """Await `step`, abandoning it if a stop is requested meanwhile."""
        task = asyncio.ensure_future(step)
        stop = asyncio.create_task(self.stop_requested.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise Interrupted
        return task.result()

    async def infrastructure(self) -> dict[str, str]:
        """Find or start PostgreSQL and NATS; the environment every child gets."""
        pg_dir, nats_dir = self.data_dir / "postgres", self.data_dir / "nats"
        self.postgres = await find_or_start_postgres(pg_dir, use_existing=self.use_existing)
        say(self.postgres.describe("PostgreSQL"))
        database_url = await ensure_database(self.postgres.url, self._database_name())
        self.nats = await find_or_start_nats(nats_dir, use_existing=self.use_existing)
        say(self.nats.describe("NATS"))
        env = dict(os.environ)
        if self.users_grpc_fork_support is None:
            env.pop("GRPC_ENABLE_FORK_SUPPORT", None)  # our quieting is not the services' business
        env.pop("TAMARU_GRPC_PORT", None)  # set per service from self.ports
        env.update(
            TAMARU_DATABASE_URL=database_url,
            TAMARU_NATS_URL=self.nats.url,
            TAMARU_GRPC_HOST="127.0.0.1",
            TAMARU_LOG_FORMAT="text",
            TAMARU_MIGRATE_ON_START="false",  # done once, before any service starts
            PYTHONUNBUFFERED="1",  # lines appear as they are written, not in 8 KiB bursts
        )
        # Spans go to a local file so `tamaructl trace TRACE_ID` can show a request's tree
        # without a tracing backend; an OTLP endpoint in the environment wins.
        if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env:
            env.setdefault("TAMARU_TELEMETRY", "file")
            env.setdefault(
                "TAMARU_TELEMETRY_FILE", str(self.root / ".tamaru" / "telemetry" / "spans.jsonl")
            )
        return env

    def _database_name(self) -> str:
        """`tamaru`, unless TAMARU_DATABASE_URL (in use) names another database."""
        if self.postgres is not None and self.postgres.origin == "configured":
            named = make_url(self.postgres.url).database
            if named and named != "postgres":
                return named
        return DATABASE_NAME

    def built_services(self) -> list[str]:
        built = []
        for name in self.services:
            if (self.root / "services" / name / "__main__.py").exists():
                built.append(name)
            else:
                say(f"{name}: not built yet (no services/{name}/__main__.py), skipped")
        return built

    async def migrate(self, services: list[str], env: dict[str, str]) -> bool:
        """All at once: each service migrates its own schema under its own advisory lock, and
        most of a migration's time is the interpreter importing the service."""
        codes = await asyncio.gather(
            *(
                run_step(
                    name,
                    [sys.executable, "-m", f"services.{name}", "migrate"],
                    env,
                    index=index,
                    cwd=str(self.root),
                )
                for index, name in enumerate(services)
            )
        )
        failed = [(name, code) for name, code in zip(services, codes, strict=True) if code != 0]
        for name, code in failed:
            say(f"{name}: migrations failed (exit code {code})")
        return not failed

    async def start_services(self, services: list[str], env: dict[str, str]) -> bool:
        busy = [name for name in services if port_accepts("127.0.0.1", self.ports[name])]
        if busy:
            ports = ", ".join(f"{name} {self.ports[name]}" for name in busy)
            say(f"ports already in use ({ports}): is another `make run` still running?")
            return False
        for index, name in enumerate(services):
            argv = [sys.executable, "-m", f"services.{name}"]
            own_env = {**env, "TAMARU_GRPC_PORT": str(self.ports[name])}
            child = Child(name, argv, own_env, index=index, cwd=str(self.root))
            await self.supervisor.start(child)
        return True

    async def wait_healthy(self, services: list[str]) -> list[str]:
        """Names of the services that did not report SERVING within the timeout."""
        children = {child.name: child for child in self.supervisor.children}
        results = await asyncio.gather(
            *(
                _wait_serving(self.ports[name], children[name], self.health_timeout)
                for name in services
            )
        )
        return [name for name, ok in zip(services, results, strict=True) if not ok]

    async def apply_examples(self, env: dict[str, str]) -> bool:
        manifests = sorted((self.root / "examples" / "programs").glob("*.yaml"))
        if not manifests:
            say("no example programs in examples/programs/, nothing to apply")
            return True
        ok = True
        for manifest in manifests:
            shown = manifest.relative_to(self.root)
            argv = [sys.executable, "-m", "tamaructl", "apply", "-f", str(manifest)]
            code = await run_step("apply", argv, env, cwd=str(self.root), timeout=120)
            if code != 0:
                say(f"applying {shown} failed (exit code {code})")
                ok = False
            else:
                say(f"applied {shown}")
        return ok

    async def run_demo(self, env: dict[str, str]) -> int:
        argv = [sys.executable, "-m", "tamaructl", "demo"]
        code = await run_step("demo", argv, env, cwd=str(self.root), timeout=600)
        say("demo finished" if code == 0 else f"demo failed (exit code {code})")
        return code

    def on_stop_signal(self) -> None:
        if not self.stop_requested.is_set():
            self.stop_requested.set()
            return
        say("stopping now (second interrupt): killing the services")
        self.supervisor.kill_all()

    async def shutdown(self) -> None:
        if self.supervisor.children:
            say("stopping services")
            await self.supervisor.stop_all()
        # Only what this run started: a server found running is someone's to keep.
        if self.nats is not None and self.nats.origin == "started":
            await stop_nats(self.data_dir / "nats")
            say("stopped embedded NATS")
        if self.postgres is not None and self.postgres.origin == "started":
            await stop_postgres(self.data_dir / "postgres")
            say("stopped embedded PostgreSQL")


def _quiet_grpc_fork_warning() -> str | None:
    """gRPC logs "skipping fork() handlers" each time we spawn a child while our health-check
    channel is open; we never use gRPC in a forked child, so its fork support can be off.
    Must run before the first channel is made. Returns the user's own setting, if any."""
    own = os.environ.get("GRPC_ENABLE_FORK_SUPPORT")
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    return own


async def _wait_serving(port: int, child: Child, timeout: float) -> bool:
    import grpc  # late, so that _quiet_grpc_fork_warning applies to it
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    request = health_pb2.HealthCheckRequest(service="")
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while asyncio.get_running_loop().time() < deadline and not child.gave_up:
            try:
                reply = await stub.Check(request, timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.aio.AioRpcError:
                pass  # not listening yet, or still starting
            await asyncio.sleep(0.2)
    return False


async def up(stack: DevStack, *, demo_only: bool) -> int:
    stack.users_grpc_fork_support = _quiet_grpc_fork_warning()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stack.on_stop_signal)
    try:
        return await _up(stack, demo_only=demo_only)
    except Interrupted:
        say("interrupted")
        return 130
    except DevStackError as exc:
        say(f"cannot start the local stack: {exc}")
        return 1
    finally:
        await stack.shutdown()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _up(stack: DevStack, *, demo_only: bool) -> int:
    env = await stack.until_stopped(stack.infrastructure())
    services = stack.built_services()
    if not await stack.until_stopped(stack.migrate(services, env)):
        return 1
    if not await stack.until_stopped(stack.start_services(services, env)):
        return 1
    unhealthy = await stack.until_stopped(stack.wait_healthy(services))
    if unhealthy:
        say(f"not serving after {stack.health_timeout:g}s: {', '.join(unhealthy)}")
        return 1
    say("all services serving: " + ", ".join(f"{s} :{stack.ports[s]}" for s in services))
    applied = await stack.until_stopped(stack.apply_examples(env))
    if not applied:
        say("skipping the demo: example programs were not applied")
        if demo_only:
            return 1
    else:
        say("ready")
        demo_code = await stack.until_stopped(stack.run_demo(env))
        if demo_only:
            return demo_code
    say("serving until Ctrl-C")
    await stack.stop_requested.wait()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl dev")
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="run everything locally (make run / make demo)")
    up_parser.add_argument(
        "--demo-only", action="store_true", help="stop after the demo, exiting with its code"
    )
    up_parser.add_argument(
        "--embedded",
        action="store_true",
        help="ignore PostgreSQL/NATS already running; use embedded ones under .tamaru/",
    )
    args = parser.parse_args(argv)
    stack = DevStack(use_existing=not args.embedded)
    return asyncio.run(up(stack, demo_only=args.demo_only))
