"""Program config: a published revision is applied by the service's watcher (its table, its
hook, its key ring) and acknowledged in the status bucket; a failing hook reports the error;
a restarted watcher replays and reports again without re-running the hook."""

from __future__ import annotations

from collections.abc import Callable

from nats.js import JetStreamContext
from sqlalchemy import select

from runtime.auth import KeyRing, Role
from runtime.db.plumbing import ProgramConfigRow
from runtime.db.unit_of_work import UnitOfWork
from runtime.devstack import NatsServer
from runtime.programs.publisher import publish_program, wait_for_reports
from runtime.programs.record import ProgramRecord
from runtime.programs.watcher import ProgramConfigWatcher

SPEC = {"programId": "x", "displayName": "Demo", "pointName": "Stars"}


async def test_revision_applied_and_acknowledged(
    js: JetStreamContext, uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    keyring = KeyRing()
    applied: list[tuple[str, int]] = []

    async def hook(uow: UnitOfWork, record: ProgramRecord) -> None:
        if record.program_id == program_id:
            applied.append((record.spec["pointName"], record.generation))

    watcher = ProgramConfigWatcher(js, "rt", uow_factory, keyring, hook)
    await watcher.start()
    try:
        keys = {"admin": f"tmr_admin_{program_id}_secret"}
        record, revision = await publish_program(
            js, program_id=program_id, spec=SPEC, keys=keys, closed=False
        )
        outcome = await wait_for_reports(
            js,
            program_id=program_id,
            revision=revision,
            generation=record.generation,
            services=["rt"],
            timeout=10,
        )
        assert outcome.ready, outcome
        principal = keyring.resolve(keys["admin"])
        assert principal is not None
        assert (principal.program_id, principal.role) == (program_id, Role.ADMIN)
        assert keyring.resolve("tmr_admin_wrong") is None

        # An update: new generation, applied in order; closing is reflected in the key ring.
        record2, revision2 = await publish_program(
            js, program_id=program_id, spec={**SPEC, "pointName": "Moons"}, keys=keys, closed=True
        )
        assert record2.generation == record.generation + 1
        outcome2 = await wait_for_reports(
            js,
            program_id=program_id,
            revision=revision2,
            generation=record2.generation,
            services=["rt"],
            timeout=10,
        )
        assert outcome2.ready
        assert keyring.is_closed(program_id)
        async with uow_factory() as uow:
            row = await uow.session.scalar(
                select(ProgramConfigRow).where(ProgramConfigRow.program_id == program_id)
            )
        assert row is not None
        assert (row.revision, row.closed, row.record["spec"]["pointName"]) == (
            revision2,
            True,
            "Moons",
        )
    finally:
        await watcher.stop()
    assert applied == [("Stars", 1), ("Moons", 2)]

    # Restart: the replay re-reports the latest revision and does not re-run the hook.
    restarted = ProgramConfigWatcher(js, "rt", uow_factory, KeyRing(), hook)
    await restarted.start()
    try:
        await restarted.synced.wait()
        outcome3 = await wait_for_reports(
            js, program_id=program_id, revision=revision2, generation=2, services=["rt"], timeout=10
        )
        assert outcome3.ready
    finally:
        await restarted.stop()
    assert applied == [("Stars", 1), ("Moons", 2)]


async def test_failing_apply_reports_the_error_and_changes_nothing(
    js: JetStreamContext, uow_factory: Callable[[], UnitOfWork], program_id: str
) -> None:
    async def hook(uow: UnitOfWork, record: ProgramRecord) -> None:
        if record.program_id == program_id:
            raise ValueError("tier 'gold' needs a threshold")

    watcher = ProgramConfigWatcher(js, "rt", uow_factory, KeyRing(), hook)
    await watcher.start()
    try:
        record, revision = await publish_program(
            js, program_id=program_id, spec=SPEC, keys={}, closed=False
        )
        outcome = await wait_for_reports(
            js,
            program_id=program_id,
            revision=revision,
            generation=record.generation,
            services=["rt"],
            timeout=10,
        )
    finally:
        await watcher.stop()
    assert not outcome.ready
    assert "tier 'gold' needs a threshold" in outcome.failed["rt"]
    async with uow_factory() as uow:
        row = await uow.session.scalar(
            select(ProgramConfigRow).where(ProgramConfigRow.program_id == program_id)
        )
    assert row is None


async def test_watcher_applies_promptly_after_nats_restarts(
    js: JetStreamContext,
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    nats_server: NatsServer,
) -> None:
    watcher = ProgramConfigWatcher(js, "rt", uow_factory, KeyRing())
    await watcher.start()
    try:
        await watcher.synced.wait()
        await nats_server.stop()
        await nats_server.start()
        record, revision = await publish_program(
            js, program_id=program_id, spec=SPEC, keys={}, closed=False
        )
        outcome = await wait_for_reports(
            js,
            program_id=program_id,
            revision=revision,
            generation=record.generation,
            services=["rt"],
            timeout=5,
        )
    finally:
        await watcher.stop()
    assert outcome.ready, outcome
