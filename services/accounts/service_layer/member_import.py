"""Bulk member import: CSV records in, members enrolled or updated in batches.

Records are parsed as they arrive and written a batch at a time, each batch in its own
transaction, so memory holds one batch however long the file is. Rows are matched by
external_ref; a row that changes nothing writes nothing, so running a file again is safe and
reports no changes. A bad row is reported (1-based data row, column, reason) and skipped;
the other rows go on. See docs/members.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import InvalidArgument
from services.accounts.adapters.group_repository import lock_tree
from services.accounts.adapters.member_queries import group_ids_by_member
from services.accounts.adapters.orm import (
    AccountRow,
    GroupRow,
    IdentifierRow,
    MemberGroupRow,
    MemberRow,
)
from services.accounts.adapters.sql_lists import any_of
from services.accounts.domain.member_csv import (
    Header,
    ImportRow,
    RowError,
    merged_attributes,
    parse_header,
    parse_row,
    read_records,
)
from services.accounts.domain.model import AccountStatus
from services.accounts.service_layer.members import identifier_key, set_groups
from tamaru.accounts.v1 import events_pb2

MAX_REPORTED_ERRORS = 1000
BATCH_SIZE = 1000
ANALYZE_AFTER = 1000  # enrolled rows

log = logging.getLogger(__name__)


class ImportMode(StrEnum):
    CREATE = "create"  # existing external refs are rejected
    UPSERT = "upsert"  # existing members are updated


@dataclass
class ImportReport:
    rows: int = 0
    enrolled: int = 0
    updated: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def reject(self, errors: Sequence[RowError]) -> None:
        self.rejected += len(errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])


@dataclass
class _Outcome:
    enrolled: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


async def import_members(
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    records: AsyncIterator[str],
    *,
    mode: ImportMode,
    dry_run: bool,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    report = ImportReport()
    header: Header | None = None
    batch: list[ImportRow] = []
    parse_errors: list[RowError] = []
    # external_ref -> first row: a ref given twice is an error wherever the batches split.
    # Only the refs are kept (tens of bytes a row), never the rows.
    first_rows: dict[str, int] = {}
    today = datetime.now(UTC).date()
    analyzed_at = 0  # enrolled count when statistics were last refreshed

    async def flush() -> None:
        nonlocal analyzed_at
        rows = list(batch)
        batch.clear()
        outcome = (
            await _run_batch(uow_factory, program_id, rows, mode, dry_run=dry_run)
            if rows
            else _Outcome()
        )
        report.enrolled += outcome.enrolled
        report.updated += outcome.updated
        report.reject(sorted([*parse_errors, *outcome.errors], key=lambda e: e.row))
        parse_errors.clear()
        # Each time the import has doubled what it added, so a 100,000-row file costs ~7.
        if not dry_run and report.enrolled >= max(ANALYZE_AFTER, 2 * analyzed_at):
            await _refresh_statistics(uow_factory)
            analyzed_at = report.enrolled

    async for record in records:
        for cells in read_records([record]):
            if header is None:
                header = parse_header(cells)
                continue
            report.rows += 1
            parsed = parse_row(header, cells, report.rows, today)
            if isinstance(parsed, RowError):
                parse_errors.append(parsed)
            elif parsed.external_ref in first_rows:
                parse_errors.append(
                    RowError(
                        parsed.row,
                        "external_ref",
                        "DUPLICATE_ROW",
                        f"external_ref {parsed.external_ref!r} is also in row "
                        f"{first_rows[parsed.external_ref]}",
                    )
                )
            else:
                first_rows[parsed.external_ref] = parsed.row
                batch.append(parsed)
                if len(batch) >= batch_size:
                    await flush()
    if header is None:
        raise InvalidArgument("the CSV is empty: it needs a header row", field="chunk")
    await flush()
    return report


async def _refresh_statistics(uow_factory: Callable[[], UnitOfWork]) -> None:
    """While and right after a large load the planner still thinks the tables are small and
    picks scans over indexes, which makes every later batch (and every member query) slower
    than the one before. PostgreSQL's advice: ANALYZE after bulk loading; autovacuum would
    only catch up minutes later."""
    try:
        async with uow_factory() as uow:
            await uow.session.execute(
                text("ANALYZE members, point_accounts, identifiers, member_groups")
            )
            await uow.commit()
    except DBAPIError:  # e.g. a database role that may not analyze: only slower, not wrong
        log.warning("could not refresh table statistics after an import", exc_info=True)


async def _run_batch(
    uow_factory: Callable[[], UnitOfWork],
    program_id: str,
    rows: list[ImportRow],
    mode: ImportMode,
    *,
    dry_run: bool,
) -> _Outcome:
    if dry_run:  # the same checks against the database, then roll back
        async with uow_factory() as uow:
            return await _apply(uow, program_id, rows, mode)
    for attempt in range(3):
        try:
            return await run_in_transaction(
                uow_factory, lambda uow: _apply(uow, program_id, rows, mode)
            )
        except IntegrityError:
            # A concurrent request enrolled one of these external refs or linked one of these
            # identifiers after we looked: run the batch again, which now sees it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _new_member(program_id: str, member_id: str, r: ImportRow, now: datetime) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "program_id": program_id,
        "external_ref": r.external_ref,
        "display_name": r.display_name or "",
        "email": r.email or "",
        "phone": r.phone or "",
        "birth_date": r.birth_date,
        "attributes": merged_attributes({}, r.attributes or {}),
        "group_id": r.group_ids[0] if r.group_ids else None,
        "status": AccountStatus.ACTIVE.value,
        "tier_id": "",
        "manual_tier_id": "",
        "manual_tier_mode": "",
        "profile_image_url": "",
        "joined_at": now,
        "updated_at": now,
    }


def _changes(current: MemberRow, r: ImportRow) -> dict[str, Any]:
    """The profile columns the row changes (empty when it matches the member)."""
    wanted: dict[str, Any] = {
        "display_name": r.display_name,
        "email": r.email,
        "phone": r.phone,
    }
    changes = {k: v for k, v in wanted.items() if v is not None and getattr(current, k) != v}
    if r.has_birth_date and current.birth_date != r.birth_date:
        changes["birth_date"] = r.birth_date
    if r.attributes is not None:
        attributes = merged_attributes(current.attributes or {}, r.attributes)
        if attributes != (current.attributes or {}):
            changes["attributes"] = attributes
    return changes


async def _apply(
    uow: UnitOfWork, program_id: str, rows: list[ImportRow], mode: ImportMode
) -> _Outcome:
    s = uow.session
    now = datetime.now(UTC)
    outcome = _Outcome()
    reject = outcome.errors.append

    unique = rows  # external refs are distinct: import_members saw to it
    wanted_groups = sorted({g for r in unique for g in r.group_ids or ()})
    known_groups: set[str] = set()
    if wanted_groups:
        await lock_tree(s, program_id, shared=True)
        known_groups = set(
            await s.scalars(
                select(GroupRow.group_id).where(
                    GroupRow.program_id == program_id, any_of(GroupRow.group_id, wanted_groups)
                )
            )
        )

    existing = {
        m.external_ref: m
        for m in await s.scalars(
            select(MemberRow)
            .where(
                MemberRow.program_id == program_id,
                any_of(MemberRow.external_ref, [r.external_ref for r in unique]),
            )
            .order_by(MemberRow.member_id)  # a fixed lock order: concurrent imports can't deadlock
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    current_groups = await group_ids_by_member(
        s, program_id, [m.member_id for m in existing.values()]
    )
    keys = sorted({key for r in unique for key in r.identifiers})
    owners: dict[tuple[str, str], str] = {}
    if keys:
        # Two `= ANY` lists (hashed by PostgreSQL) instead of a row-value IN list (1,000 ORs
        # per row when the planner scans); the exact pairs are picked out here.
        owned = await s.execute(
            select(IdentifierRow.kind, IdentifierRow.value, IdentifierRow.member_id).where(
                IdentifierRow.program_id == program_id,
                any_of(IdentifierRow.kind, sorted({kind for kind, _ in keys})),
                any_of(IdentifierRow.value, sorted({value for _, value in keys})),
            )
        )
        wanted = set(keys)
        owners = {(k, v): member_id for k, v, member_id in owned if (k, v) in wanted}

    new_members: list[tuple[ImportRow, str]] = []
    updates: list[tuple[MemberRow, dict[str, Any]]] = []
    group_changes: list[tuple[str, tuple[str, ...]]] = []
    links: list[tuple[str, str, str, str]] = []  # member id, external ref, kind, value
    for r in unique:
        current = existing.get(r.external_ref)
        missing = [g for g in r.group_ids or () if g not in known_groups]
        if missing:
            reject(
                RowError(
                    r.row, "group_ids", "GROUP_NOT_FOUND", f"group {missing[0]!r} does not exist"
                )
            )
            continue
        if current is not None and mode is ImportMode.CREATE:
            reject(
                RowError(
                    r.row,
                    "external_ref",
                    "MEMBER_EXISTS",
                    f"a member with external_ref {r.external_ref!r} already exists",
                )
            )
            continue
        if current is not None and current.status == AccountStatus.MERGED.value:
            reject(
                RowError(
                    r.row,
                    "external_ref",
                    "ACCOUNT_MERGED",
                    f"member {r.external_ref!r} was merged into another one",
                )
            )
            continue
        member_id = current.member_id if current else str(uuid.uuid4())
        taken = next((k for k in r.identifiers if owners.get(k, member_id) != member_id), None)
        if taken is not None:
            reject(
                RowError(
                    r.row,
                    "identifiers",
                    "IDENTIFIER_IN_USE",
                    f"{taken[0]} {taken[1]!r} is linked to another member",
                )
            )
            continue
        new_links = [k for k in r.identifiers if k not in owners]
        for key in new_links:
            owners[key] = member_id  # a later row of this batch can't take it too
        links += [(member_id, r.external_ref, kind, value) for kind, value in new_links]
        if current is None:
            new_members.append((r, member_id))
            continue
        changes = _changes(current, r)
        groups_change = r.group_ids is not None and sorted(r.group_ids) != current_groups.get(
            member_id, []
        )
        if changes:
            updates.append((current, changes))
        if groups_change and r.group_ids is not None:
            group_changes.append((member_id, r.group_ids))
        if changes or groups_change or new_links:
            outcome.updated += 1

    await _write_new(uow, program_id, new_members, now)
    outcome.enrolled = len(new_members)
    for current, changes in updates:
        await s.execute(
            update(MemberRow)
            .where(MemberRow.program_id == program_id, MemberRow.member_id == current.member_id)
            .values(**changes, updated_at=now)
        )
    for member_id, group_ids in group_changes:
        await set_groups(s, program_id, member_id, group_ids)
    if links:
        await s.execute(
            insert(IdentifierRow),
            [
                {
                    "program_id": program_id,
                    "kind": kind,
                    "value": value,
                    "member_id": member_id,
                    "linked_at": now,
                }
                for member_id, _, kind, value in links
            ],
        )
    enrolled_ids = {member_id for _, member_id in new_members}
    await uow.emit_many(
        program_id,
        "identifier_linked",
        [
            (
                events_pb2.IdentifierLinked(
                    program_id=program_id,
                    account_id=member_id,
                    member_external_ref=ref,
                    identifier=identifier_key(kind, value),
                ),
                member_id,
            )
            for member_id, ref, kind, value in links
            if member_id not in enrolled_ids  # member_enrolled lists a new member's ones
        ],
        occurred_at=now,
    )

    return outcome


async def _write_new(
    uow: UnitOfWork, program_id: str, new_members: list[tuple[ImportRow, str]], now: datetime
) -> None:
    if not new_members:
        return
    s = uow.session
    await s.execute(
        insert(MemberRow),
        [_new_member(program_id, mid, r, now) for r, mid in new_members],
    )
    await s.execute(
        insert(AccountRow),
        [
            {
                "account_id": mid,
                "program_id": program_id,
                "status": AccountStatus.ACTIVE.value,
                "available": 0,
                "held": 0,
                "deficit": 0,
            }
            for _, mid in new_members
        ],
    )
    memberships = [
        {"program_id": program_id, "member_id": mid, "group_id": g}
        for r, mid in new_members
        for g in r.group_ids or ()
    ]
    if memberships:
        await s.execute(insert(MemberGroupRow), memberships)
    enrolled = []
    for r, mid in new_members:
        event = events_pb2.MemberEnrolled(
            program_id=program_id,
            account_id=mid,
            member_external_ref=r.external_ref,
            identifiers=[identifier_key(kind, value) for kind, value in r.identifiers],
            group_ids=list(r.group_ids or ()),
        )
        event.enrolled_at.FromDatetime(now)
        enrolled.append((event, mid))
    await uow.emit_many(program_id, "member_enrolled", enrolled, occurred_at=now)
