"""Linking and unlinking identifiers (cards, app ids, ...). An identifier is unique per
program and type: it names at most one member."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import AlreadyExists, NotFound
from services.accounts.adapters.orm import IdentifierRow
from services.accounts.domain.members import check_identifier_value, ensure_open
from services.accounts.domain.model import AccountStatus
from services.accounts.service_layer.members import identifier_key, lock_member
from tamaru.accounts.v1 import events_pb2


async def link_identifier(
    uow: UnitOfWork, program_id: str, member_id: str, kind: str, value: str, *, primary: bool
) -> bool:
    """Link it (a repeat for the same member only updates `primary`); True when newly linked.
    ALREADY_EXISTS / IDENTIFIER_IN_USE when another member has it."""
    check_identifier_value(value, "identifier.value")
    s = uow.session
    # The member row lock serialises this member's primary-flag changes.
    member = await lock_member(s, program_id, member_id)
    ensure_open(AccountStatus(member.status))
    now = datetime.now(UTC)
    inserted = await s.execute(
        insert(IdentifierRow)
        .values(program_id=program_id, kind=kind, value=value, member_id=member_id, linked_at=now)
        .on_conflict_do_nothing()
        .returning(IdentifierRow.member_id)
    )
    is_new = inserted.scalar_one_or_none() is not None
    if not is_new:
        owner = await s.scalar(
            select(IdentifierRow.member_id).where(
                IdentifierRow.program_id == program_id,
                IdentifierRow.kind == kind,
                IdentifierRow.value == value,
            )
        )
        if owner != member_id:
            raise AlreadyExists(
                f"{kind} {value!r} is already linked to another member",
                reason="IDENTIFIER_IN_USE",
                field="identifier",
            )
    if primary:
        mine = (IdentifierRow.program_id == program_id, IdentifierRow.member_id == member_id)
        await s.execute(
            update(IdentifierRow)
            .where(*mine, IdentifierRow.kind == kind, IdentifierRow.value != value)
            .values(is_primary=False)
        )
        await s.execute(
            update(IdentifierRow)
            .where(*mine, IdentifierRow.kind == kind, IdentifierRow.value == value)
            .values(is_primary=True)
        )
    if is_new:
        await uow.emit(
            program_id,
            "identifier_linked",
            events_pb2.IdentifierLinked(
                program_id=program_id,
                account_id=member_id,
                member_external_ref=member.external_ref,
                identifier=identifier_key(kind, value),
            ),
            aggregate_id=member_id,
            occurred_at=now,
        )
    return is_new


async def unlink_identifier(
    uow: UnitOfWork, program_id: str, member_id: str, kind: str, value: str
) -> None:
    """NOT_FOUND / IDENTIFIER_NOT_FOUND unless this member has it."""
    s = uow.session
    member = await lock_member(s, program_id, member_id)
    removed = await s.execute(
        delete(IdentifierRow)
        .where(
            IdentifierRow.program_id == program_id,
            IdentifierRow.kind == kind,
            IdentifierRow.value == value,
            IdentifierRow.member_id == member_id,
        )
        .returning(IdentifierRow.value)
    )
    if removed.scalar_one_or_none() is None:
        raise NotFound(
            f"{kind} {value!r} is not linked to this member",
            reason="IDENTIFIER_NOT_FOUND",
            field="identifier",
        )
    await uow.emit(
        program_id,
        "identifier_unlinked",
        events_pb2.IdentifierUnlinked(
            program_id=program_id,
            account_id=member_id,
            member_external_ref=member.external_ref,
            identifier=identifier_key(kind, value),
        ),
        aggregate_id=member_id,
    )
