"""The composition root every service shares: wires settings, database, NATS, outbox relay,
config watcher, commands, consumers and the gRPC server, and shuts them down in order.

A service describes itself with a `ServiceDefinition` (its name, migrations, servicers, method
policy, commands, consumers, config hook, background workers); `python -m services.<name>`
calls `main(definition)`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from runtime import event_loop, gc_tuning
from runtime.auth import KeyRing
from runtime.config import Settings, TelemetryMode, load_settings
from runtime.db import driver, migrations
from runtime.db.engine import make_async_engine, make_session_factory
from runtime.db.unit_of_work import UnitOfWork
from runtime.grpcserver import MethodPolicy, RunningServer, install_signal_handlers, start_server
from runtime.messaging.commands import CommandClient, CommandServer
from runtime.messaging.connection import connect
from runtime.messaging.consumer import EventConsumer
from runtime.messaging.link_watch import watch_nats_link
from runtime.messaging.outbox_relay import OutboxRelay, outbox_backlog
from runtime.messaging.streams import EVENTS_STREAM, ensure_events_stream
from runtime.programs.registry import ProgramRegistry
from runtime.programs.watcher import ApplyHook, ProgramConfigWatcher
from runtime.retention import RetentionPurger
from runtime.telemetry import metrics
from runtime.telemetry.logging import configure_logging
from runtime.telemetry.setup import Telemetry, setup_telemetry

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A background loop owned by a service (expiry sweeper, saga recovery, ...)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class ServiceContext:
    """Everything a service's adapters and entrypoints may need, built once."""

    name: str
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    nc: Client
    js: JetStreamContext
    commands: CommandClient
    keyring: KeyRing
    programs: ProgramRegistry
    relay: OutboxRelay

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.name, on_commit=self.relay.wake)


Servicers = list[tuple[Callable[[Any, Any], None], Any]]


@dataclass
class ServiceDefinition:
    name: str
    migrations_dir: Path
    grpc_service_names: Sequence[str] = ()
    method_policy: MethodPolicy = field(default_factory=lambda: MethodPolicy({}))
    servicers: Callable[[ServiceContext], Servicers] = lambda ctx: []
    commands: Callable[[ServiceContext, CommandServer], None] = lambda ctx, server: None
    consumers: Callable[[ServiceContext], list[EventConsumer]] = lambda ctx: []
    workers: Callable[[ServiceContext], list[Worker]] = lambda ctx: []
    apply_hook: Callable[[ServiceContext], ApplyHook | None] = lambda ctx: None


class ServiceApp:
    def __init__(
        self,
        definition: ServiceDefinition,
        settings: Settings,
        *,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.telemetry = telemetry
        self.ctx: ServiceContext | None = None
        self.server: RunningServer | None = None
        self._command_server: CommandServer | None = None
        self._consumers: list[EventConsumer] = []
        self._workers: list[Worker] = []
        self._watcher: ProgramConfigWatcher | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._link_watch: asyncio.Task[None] | None = None
        self._stopping = False
        # Set when the NATS connection is closed for good: the process must be replaced.
        self.failed = asyncio.Event()

    def applied_revision(self, program_id: str) -> int | None:
        """The program config revision this instance applied (None: not yet)."""
        return self._watcher.applied_revision(program_id) if self._watcher else None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def start(self) -> None:
        d, s = self.definition, self.settings
        if s.should_migrate_on_start:
            await asyncio.to_thread(migrations.upgrade, d.migrations_dir, s.database_url, d.name)
        engine = make_async_engine(
            s.database_url, schema=d.name, pool_size=s.db_pool_size, application_name=d.name
        )
        if self.telemetry is not None and s.telemetry_mode is not TelemetryMode.OFF:
            trace_statements(engine, self.telemetry)
        session_factory = make_session_factory(engine)
        nc = await connect(s.nats_url, name=f"tamaru-{d.name}")
        js = nc.jetstream()
        await ensure_events_stream(js)
        provider = self.telemetry.tracer_provider if self.telemetry else None
        relay = OutboxRelay(session_factory, js, tracer_provider=provider)
        ctx = ServiceContext(
            name=d.name,
            settings=s,
            engine=engine,
            session_factory=session_factory,
            nc=nc,
            js=js,
            commands=CommandClient(
                nc, default_timeout=s.command_timeout_seconds, tracer_provider=provider
            ),
            keyring=KeyRing(),
            programs=ProgramRegistry(),
            relay=relay,
        )
        self.ctx = ctx
        relay.start()
        self._watcher = ProgramConfigWatcher(
            js, d.name, ctx.uow, ctx.keyring, d.apply_hook(ctx), registry=ctx.programs
        )
        await self._watcher.start()
        # Serve only with every program known: a replica answering "unknown API key" for a
        # program its peers already applied would look like a revoked key to the client.
        if not await self._watcher.wait_synced(s.config_sync_timeout_seconds):
            log.warning(
                "%s: program config replay still running after %ss; serving with the programs "
                "known from the database",
                d.name,
                s.config_sync_timeout_seconds,
            )
        self._command_server = CommandServer(
            nc, d.name, tracer_provider=provider, max_concurrent=s.db_pool_size
        )
        d.commands(ctx, self._command_server)
        await self._command_server.start()
        self._consumers = d.consumers(ctx)
        for consumer in self._consumers:
            if provider is not None:
                consumer.use_tracer_provider(provider)
            await consumer.start()
        self._workers = [*d.workers(ctx), RetentionPurger(ctx.uow)]
        for worker in self._workers:
            await worker.start()
        self.server = await start_server(
            service_name=d.name,
            host=s.grpc_host,
            port=s.port_for(d.name),
            servicers=d.servicers(ctx),
            policy=d.method_policy,
            keyring=ctx.keyring,
            service_names_for_reflection=list(d.grpc_service_names),
            health_names=list(d.grpc_service_names),
            tracer_provider=self.telemetry.tracer_provider if self.telemetry else None,
        )
        self._sampler = asyncio.create_task(self._sample_metrics(), name="metrics-sampler")
        self._link_watch = asyncio.create_task(
            watch_nats_link(nc, self.server.set_serving, self._nats_lost), name="nats-link-watch"
        )
        log.info("%s ready on port %s", d.name, self.server.port)

    async def _nats_lost(self) -> None:
        """NOT_SERVING, and `failed` for `serve()` to exit on: nats-py never reopens a closed
        connection, so only a new process gets commands and events back."""
        assert self.server is not None
        await self.server.set_serving(False)
        self.failed.set()

    async def _sample_metrics(self, interval: float = 10.0) -> None:
        """Outbox backlog and consumer lag, sampled for the observable gauges."""
        assert self.ctx is not None
        ctx, name = self.ctx, self.definition.name
        while not self._stopping:
            try:
                # begin(): commits the read (a rollback would cost the connection its
                # prepared statements, see UnitOfWork.__aexit__).
                async with ctx.session_factory() as session, session.begin():
                    backlog, age = await outbox_backlog(session)
                metrics.outbox_backlog.set(backlog, service=name)
                metrics.outbox_oldest_age.set(age, service=name)
                for consumer in self._consumers:
                    if self._stopping:
                        return
                    info = await ctx.js.consumer_info(EVENTS_STREAM, consumer.durable)
                    lag = (info.num_pending or 0) + (info.num_ack_pending or 0)
                    metrics.consumer_lag.set(lag, service=name, durable=consumer.durable)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a metric gap is better than a crashed service
                log.debug("metrics sampling failed: %s", exc)
            if not self._stopping:
                await asyncio.sleep(interval)

    async def stop(self) -> None:
        """Stop taking work, finish what is in flight, flush the outbox, close connections.

        Each step gets a bounded time and a log line when it overruns, so one stuck part never
        keeps the process from exiting (Kubernetes would SIGKILL it mid-transaction)."""
        grace = self.settings.shutdown_grace_seconds
        # The sampler checks this flag as well as taking the cancellation: on Python 3.11,
        # asyncio.wait_for (inside nats-py's requests) swallows a cancellation that lands just
        # as the reply does, and the sampler then went on for good, so stop() never returned.
        self._stopping = True
        for task in (self._sampler, self._link_watch):  # the drain below is no link failure
            if task is not None:
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=2)
                if not done:
                    log.warning("%s: %s did not stop; moving on", self.definition.name, task)
        if self.server is not None:
            await self._bounded("gRPC server", self.server.stop(grace), grace + 1)
        if self._command_server is not None:
            await self._bounded("command server", self._command_server.stop(), grace)
        for consumer in self._consumers:
            await self._bounded(f"consumer {consumer.durable}", consumer.stop(), grace)
        for worker in reversed(self._workers):
            await self._bounded(type(worker).__name__, worker.stop(), grace)
        if self._watcher is not None:
            await self._bounded("config watcher", self._watcher.stop(), 2)
        if self.ctx is not None:
            await self._bounded("outbox relay", self.ctx.relay.stop(), grace)
            # Whatever is still in the outbox is published by the next start.
            await self._bounded("outbox flush", self.ctx.relay.publish_pending(), grace or 1)
            await self._bounded("NATS drain", self.ctx.nc.drain(), 5)
            await self._bounded("database pool", self.ctx.engine.dispose(), 5)
        log.info("%s stopped", self.definition.name)

    async def _bounded(self, what: str, step: Awaitable[object], seconds: float) -> None:
        try:
            await asyncio.wait_for(step, timeout=max(seconds, 0.5))
        except TimeoutError:
            log.warning(
                "%s: stopping %s took over %.1fs; moving on", self.definition.name, what, seconds
            )
        except Exception as exc:
            log.warning("%s: stopping %s failed: %s", self.definition.name, what, exc)


def trace_statements(engine: AsyncEngine, telemetry: Telemetry) -> None:
    """One span per SQL statement on this engine, with this service's tracer: on-call sees
    where a slow request waited. (The instrumentor's own `instrument()` patches engine
    creation process-wide, once, with the first caller's tracer: wrong for several services
    in one process.) Skipped when nothing exports spans: it costs tens of microseconds per
    statement."""
    tracer = telemetry.tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    connections = telemetry.meter(
        "opentelemetry.instrumentation.sqlalchemy"
    ).create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]
    driver.trace_statements(engine.sync_engine, tracer)  # the hot paths' fixed statements


async def serve(definition: ServiceDefinition, settings: Settings) -> int:
    """Run until SIGTERM (exit code 0) or until the NATS connection is lost for good (1, so
    the orchestrator starts a fresh process)."""
    telemetry = setup_telemetry(definition.name, settings)
    app = ServiceApp(definition, settings, telemetry=telemetry)
    stop_requested = asyncio.Event()

    async def request_stop() -> None:
        stop_requested.set()

    # A SIGTERM that arrives while the service is still starting is honoured once it has
    # started, so start and stop never interleave.
    install_signal_handlers(asyncio.get_running_loop(), request_stop)
    await app.start()
    gc_tuning.freeze_startup_heap(settings.gc_young_threshold)
    stopped, failed = (
        asyncio.ensure_future(stop_requested.wait()),
        asyncio.ensure_future(app.failed.wait()),
    )
    await asyncio.wait((stopped, failed), return_when=asyncio.FIRST_COMPLETED)
    code = 0 if stop_requested.is_set() else 1
    stopped.cancel()
    failed.cancel()
    if code:
        log.error("%s: NATS connection lost for good; exiting to be restarted", definition.name)
    log.info("%s: shutting down", definition.name)
    await app.stop()
    telemetry.shutdown()
    return code


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{definition.name}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the service (default)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    down = sub.add_parser("downgrade", help="roll migrations back to REVISION and exit")
    down.add_argument("revision")
    args = parser.parse_args(argv)
    settings = load_settings()
    configure_logging(definition.name, settings.log_level, settings.log_format)
    schema = definition.name
    if args.command == "migrate":
        migrations.upgrade(definition.migrations_dir, settings.database_url, schema)
        print(f"{definition.name}: migrated to head")
        return 0
    if args.command == "downgrade":
        migrations.downgrade(
            definition.migrations_dir, settings.database_url, schema, args.revision
        )
        return 0
    gc_tuning.tune(settings.gc_young_threshold)
    with contextlib.suppress(KeyboardInterrupt):
        return event_loop.run(serve(definition, settings), settings.event_loop)
    return 0


def run(definition: ServiceDefinition) -> None:
    sys.exit(main(definition))
