"""Applies program config revisions from the KV bucket to a service, and reports back.

Each service runs one watcher. For every revision it (1) records the config in its own
`program_configs` table and runs the service's apply hook in one transaction, (2) refreshes the
in-memory API key ring, (3) writes a `ConfigApplied` report (ok or the error) to the
`tamaru_program_status` bucket, which `tamaructl apply` and the operator watch. A restart
replays the latest revision of every program; a revision already in the database is not
applied again, only reported once by this process. The service does not serve before the replay
is done (`wait_synced`), so a replica never answers with a stale view of the programs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from google.protobuf.timestamp_pb2 import Timestamp
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from runtime.auth import KeyRing, Role
from runtime.db.plumbing import ProgramConfigRow
from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.messaging.streams import PROGRAMS_BUCKET, STATUS_BUCKET, ensure_bucket
from runtime.programs.record import ProgramRecord, status_key
from runtime.programs.registry import ProgramRegistry
from tamaru.common.v1 import common_pb2

log = logging.getLogger(__name__)

ApplyHook = Callable[[UnitOfWork, ProgramRecord], Awaitable[None]]


class ProgramConfigWatcher:
    def __init__(
        self,
        js: JetStreamContext,
        service: str,
        uow_factory: Callable[[], UnitOfWork],
        keyring: KeyRing,
        apply_hook: ApplyHook | None = None,
        registry: ProgramRegistry | None = None,
    ) -> None:
        self._js = js
        self._service = service
        self._uow_factory = uow_factory
        self._keyring = keyring
        self._apply_hook = apply_hook
        self._registry = registry
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.synced = asyncio.Event()  # set once the initial replay is done
        # program id -> revision stored in the database / reported by this process; a replay
        # after a restart or a NATS reconnect then costs no database transaction per program.
        self._applied: dict[str, int] = {}
        self._reported: dict[str, int] = {}

    async def start(self) -> None:
        await self._load_keyring_from_db()
        programs = await ensure_bucket(self._js, PROGRAMS_BUCKET)
        status = await ensure_bucket(self._js, STATUS_BUCKET)
        self._stopping = False
        self._task = asyncio.create_task(self._run(programs, status), name="config-watcher")

    async def wait_synced(self, timeout: float) -> bool:
        """Wait for the initial replay; False when it took longer than `timeout`."""
        try:
            await asyncio.wait_for(self.synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def applied_revision(self, program_id: str) -> int | None:
        """The KV revision of `program_id` this process has applied (None: not yet)."""
        return self._applied.get(program_id)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _load_keyring_from_db(self) -> None:
        # Auth works from the first request after a restart, before the KV replay finishes.
        async with self._uow_factory() as uow:
            rows = (await uow.session.scalars(select(ProgramConfigRow))).all()
        for row in rows:
            self._refresh_keyring(ProgramRecord.model_validate(row.record))
            self._applied[row.program_id] = row.revision

    async def _run(self, programs: KeyValue, status: KeyValue) -> None:
        while not self._stopping:
            try:
                await self._watch(programs, status)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("config watcher restarting after: %s", exc)
                await asyncio.sleep(0.5)

    async def _watch(self, programs: KeyValue, status: KeyValue) -> None:
        """Apply every update until the connection to NATS is re-established; then return so
        the caller watches afresh (the replay is idempotent). Re-watching at once after a
        reconnect beats waiting for the old watch's consumer to notice it was lost."""
        reconnects = self._reconnects()
        watcher = await programs.watchall()
        try:
            while self._reconnects() == reconnects:
                try:
                    entry = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
                except NatsTimeout:
                    continue
                if entry is None:  # end of the initial replay
                    self.synced.set()
                    continue
                if entry.operation is not None or entry.value is None:
                    continue  # deletes/purges: programs are closed, never deleted
                await self._apply(status, entry.revision or 0, entry.value)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    def _reconnects(self) -> int:
        return int(self._js._nc.stats.get("reconnects", 0))

    async def _apply(self, status: KeyValue, revision: int, value: bytes) -> None:
        try:
            record = ProgramRecord.from_bytes(value)
        except Exception as exc:
            log.error("unreadable program config at revision %s: %s", revision, exc)
            return
        if self._applied.get(record.program_id, -1) >= revision:
            # Already applied (by this process or, per the database, by a replica or an earlier
            # run): report it once per process, without a database transaction.
            if self._reported.get(record.program_id, -1) < revision:
                await self._put_report(status, self._report(record, revision, ok=True))
            return
        try:
            await run_in_transaction(
                self._uow_factory, lambda uow: self._store(uow, record, revision)
            )
            self._refresh_keyring(record)
            self._applied[record.program_id] = revision
            report = self._report(record, revision, ok=True)
            log.info("applied program %s revision %s", record.program_id, revision)
        except Exception as exc:
            log.exception("failed to apply program %s revision %s", record.program_id, revision)
            report = self._report(record, revision, ok=False, error=str(exc) or type(exc).__name__)
        await self._put_report(status, report)

    async def _put_report(self, status: KeyValue, report: common_pb2.ConfigApplied) -> None:
        await status.put(status_key(report.program_id, self._service), report.SerializeToString())
        self._reported[report.program_id] = report.revision

    async def _store(self, uow: UnitOfWork, record: ProgramRecord, revision: int) -> None:
        current = await uow.session.scalar(
            select(ProgramConfigRow.revision)
            .where(ProgramConfigRow.program_id == record.program_id)
            .with_for_update()
        )
        if current is not None and current >= revision:
            return  # already applied (a replay after restart)
        values = {
            "program_id": record.program_id,
            "revision": revision,
            "generation": record.generation,
            "record": record.model_dump(mode="json"),
            "closed": record.closed,
        }
        await uow.session.execute(
            insert(ProgramConfigRow)
            .values(**values)
            .on_conflict_do_update(index_elements=["program_id"], set_=values)
        )
        if self._registry is not None:
            ProgramRegistry().update(record)  # a spec this service cannot read fails the apply
        if self._apply_hook is not None:
            await self._apply_hook(uow, record)

    def _refresh_keyring(self, record: ProgramRecord) -> None:
        if self._registry is not None:
            self._registry.update(record)
        self._keyring.replace_program(
            record.program_id,
            [(k.key_hash, Role(k.role), k.key_id) for k in record.api_keys],
        )
        self._keyring.set_closed(record.program_id, record.closed)

    def _report(
        self, record: ProgramRecord, revision: int, *, ok: bool, error: str = ""
    ) -> common_pb2.ConfigApplied:
        stamp = Timestamp()
        stamp.GetCurrentTime()
        return common_pb2.ConfigApplied(
            program_id=record.program_id,
            service=self._service,
            revision=revision,
            ok=ok,
            error=error[:1000],
            generation=record.generation,
            applied_at=stamp,
        )
