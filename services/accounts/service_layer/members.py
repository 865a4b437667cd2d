"""Member handlers: enrol (member + point account + identifiers + groups, one transaction),
update the profile, suspend / reactivate / close. The caller commits (`RpcBase.mutate`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import AlreadyExists, InvalidArgument
from services.accounts.adapters.group_repository import require_groups
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.member_queries import member_not_found
from services.accounts.adapters.orm import AccountRow, IdentifierRow, MemberGroupRow, MemberRow
from services.accounts.domain.members import (
    MAX_IDENTIFIERS,
    MAX_NAME,
    MAX_REASON,
    StatusAction,
    check_attributes,
    check_email,
    check_external_ref,
    check_group_ids,
    check_identifier_value,
    check_phone,
    check_text,
    ensure_not_merged,
    next_status,
    parse_birth_date,
)
from services.accounts.domain.model import AccountStatus
from tamaru.accounts.v1 import events_pb2, ledger_pb2, members_pb2


def status_proto(status: str) -> ledger_pb2.AccountStatus.ValueType:
    return ledger_pb2.AccountStatus.Value(f"ACCOUNT_STATUS_{status.upper()}")


def identifier_key(kind: str, value: str) -> members_pb2.IdentifierKey:
    return members_pb2.IdentifierKey(
        type=members_pb2.IdentifierType.Value(f"IDENTIFIER_TYPE_{kind.upper()}"), value=value
    )


@dataclass(frozen=True)
class EnrolMember:
    external_ref: str
    display_name: str
    email: str = ""
    phone: str = ""
    birth_date: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    identifiers: tuple[tuple[str, str], ...] = ()  # (kind, value)
    group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberChanges:
    """UpdateMember: None leaves a field as it is."""

    external_ref: str | None = None
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: str | None = None
    attributes: Mapping[str, str] | None = None
    group_ids: tuple[str, ...] | None = None


def _check_identifiers(identifiers: Sequence[tuple[str, str]]) -> None:
    if len(identifiers) > MAX_IDENTIFIERS:
        raise InvalidArgument(
            f"identifiers may hold at most {MAX_IDENTIFIERS} entries", field="identifiers"
        )
    seen: set[tuple[str, str]] = set()
    for i, (kind, value) in enumerate(identifiers):
        check_identifier_value(value, f"identifiers[{i}].value")
        if (kind, value) in seen:
            raise InvalidArgument(f"{kind} {value!r} is listed twice", field=f"identifiers[{i}]")
        seen.add((kind, value))


async def set_groups(
    session: AsyncSession, program_id: str, member_id: str, group_ids: Sequence[str]
) -> None:
    """Make the member's groups exactly `group_ids` (already checked to exist)."""
    await session.execute(
        delete(MemberGroupRow).where(
            MemberGroupRow.program_id == program_id,
            MemberGroupRow.member_id == member_id,
            MemberGroupRow.group_id.not_in(list(group_ids)),
        )
    )
    if group_ids:
        await session.execute(
            insert(MemberGroupRow)
            .values(
                [
                    {"program_id": program_id, "member_id": member_id, "group_id": g}
                    for g in group_ids
                ]
            )
            .on_conflict_do_nothing()
        )
    await session.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == member_id)
        .values(group_id=group_ids[0] if group_ids else None)
    )


async def enrol_member(
    uow: UnitOfWork, program_id: str, cmd: EnrolMember, now: datetime | None = None
) -> str:
    """The new member's id (also its point account's id)."""
    now = now or datetime.now(UTC)
    check_external_ref(cmd.external_ref)
    check_text(cmd.display_name, "display_name", MAX_NAME)
    check_email(cmd.email)
    check_phone(cmd.phone)
    birth_date = parse_birth_date(cmd.birth_date, now.date())
    attributes = check_attributes(cmd.attributes)
    group_ids = check_group_ids(cmd.group_ids)
    _check_identifiers(cmd.identifiers)
    s = uow.session
    await require_groups(s, program_id, group_ids)
    member_id = str(uuid.uuid4())
    external_ref = cmd.external_ref or member_id
    inserted = await s.execute(
        insert(MemberRow)
        .values(
            member_id=member_id,
            program_id=program_id,
            external_ref=external_ref,
            display_name=cmd.display_name,
            email=cmd.email,
            phone=cmd.phone,
            birth_date=birth_date,
            attributes=attributes,
            group_id=group_ids[0] if group_ids else None,
            joined_at=now,
        )
        .on_conflict_do_nothing(index_elements=["program_id", "external_ref"])
        .returning(MemberRow.member_id)
    )
    if inserted.scalar_one_or_none() is None:
        raise AlreadyExists(
            f"a member with external_ref {external_ref!r} already exists",
            reason="MEMBER_EXISTS",
            field="external_ref",
        )
    await s.execute(insert(AccountRow).values(account_id=member_id, program_id=program_id))
    if group_ids:
        await s.execute(
            insert(MemberGroupRow),
            [{"program_id": program_id, "member_id": member_id, "group_id": g} for g in group_ids],
        )
    for i, (kind, value) in enumerate(cmd.identifiers):
        linked = await s.execute(
            insert(IdentifierRow)
            .values(program_id=program_id, kind=kind, value=value, member_id=member_id)
            .on_conflict_do_nothing()
            .returning(IdentifierRow.value)
        )
        if linked.scalar_one_or_none() is None:
            raise AlreadyExists(
                f"{kind} {value!r} is already linked to another member",
                reason="IDENTIFIER_IN_USE",
                field=f"identifiers[{i}]",
            )
    event = events_pb2.MemberEnrolled(
        program_id=program_id,
        account_id=member_id,
        member_external_ref=external_ref,
        identifiers=[identifier_key(kind, value) for kind, value in cmd.identifiers],
        group_ids=list(group_ids),
    )
    event.enrolled_at.FromDatetime(now)
    await uow.emit(program_id, "member_enrolled", event, aggregate_id=member_id, occurred_at=now)
    return member_id


async def lock_member(session: AsyncSession, program_id: str, member_id: str) -> MemberRow:
    row = await session.scalar(
        select(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == member_id)
        .with_for_update()
        # Core UPDATEs earlier in the transaction must show in the returned row.
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise member_not_found(member_id)
    return row


def _check_changes(changes: MemberChanges, today: date) -> dict[str, object]:
    """The column values to write, checked; names the `changes.<field>` at fault."""
    values: dict[str, object] = {}
    if changes.external_ref is not None:
        values["external_ref"] = check_external_ref(
            changes.external_ref, "changes.external_ref", required=True
        )
    if changes.display_name is not None:
        values["display_name"] = check_text(changes.display_name, "changes.display_name", MAX_NAME)
    if changes.email is not None:
        values["email"] = check_email(changes.email, "changes.email")
    if changes.phone is not None:
        values["phone"] = check_phone(changes.phone, "changes.phone")
    if changes.birth_date is not None:
        values["birth_date"] = parse_birth_date(changes.birth_date, today, "changes.birth_date")
    if changes.attributes is not None:
        values["attributes"] = check_attributes(changes.attributes, "changes.attributes")
    return values


async def update_member(
    uow: UnitOfWork, program_id: str, member_id: str, changes: MemberChanges
) -> None:
    now = datetime.now(UTC)
    values = _check_changes(changes, now.date())
    group_ids = (
        check_group_ids(changes.group_ids, "changes.group_ids")
        if changes.group_ids is not None
        else None
    )
    s = uow.session
    row = await lock_member(s, program_id, member_id)
    ensure_not_merged(AccountStatus(row.status))
    if group_ids is not None:
        await require_groups(s, program_id, group_ids, field="changes.group_ids")
        await set_groups(s, program_id, member_id, group_ids)
    if values:
        try:
            async with s.begin_nested():  # a taken external_ref must not abort the transaction
                await s.execute(
                    update(MemberRow)
                    .where(MemberRow.program_id == program_id, MemberRow.member_id == member_id)
                    .values(**values, updated_at=now)
                )
        except IntegrityError:
            raise AlreadyExists(
                f"another member has external_ref {changes.external_ref!r}",
                reason="MEMBER_EXISTS",
                field="changes.external_ref",
            ) from None
    elif group_ids is not None:
        await s.execute(
            update(MemberRow)
            .where(MemberRow.program_id == program_id, MemberRow.member_id == member_id)
            .values(updated_at=now)
        )


async def change_status(
    uow: UnitOfWork,
    program_id: str,
    member_id: str,
    action: StatusAction,
    *,
    reason: str,
    actor: str,
) -> None:
    """Suspend, reactivate or close the member and its point account together. The account
    row is locked first, as every ledger movement does, so a spend racing a suspension either
    finishes before it or sees the account suspended."""
    check_text(reason, "reason", MAX_REASON)
    s = uow.session
    account = await LedgerRepository(s, program_id).lock_account(member_id)
    row = await lock_member(s, program_id, member_id)
    old = AccountStatus(row.status)
    new = next_status(old, action, held=account.held)
    if new is None:
        return
    now = datetime.now(UTC)
    closed_at = now if new is AccountStatus.CLOSED else None
    await s.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == member_id)
        .values(status=new.value, closed_at=closed_at, updated_at=now)
    )
    await s.execute(
        update(AccountRow)
        .where(AccountRow.program_id == program_id, AccountRow.account_id == member_id)
        .values(status=new.value)
    )
    event = events_pb2.MemberStatusChanged(
        program_id=program_id,
        account_id=member_id,
        member_external_ref=row.external_ref,
        old_status=status_proto(old.value),
        new_status=status_proto(new.value),
        reason=reason,
        actor=actor,
    )
    await uow.emit(
        program_id, "member_status_changed", event, aggregate_id=member_id, occurred_at=now
    )
