"""Group handlers: create, rename, describe, move (refusing cycles), delete (only when empty),
and list. Tree changes hold the program's group-tree lock (see group_repository)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition, InvalidArgument
from services.accounts.adapters.group_repository import deepest_level_below, get_group, lock_tree
from services.accounts.adapters.orm import GroupRow, MemberGroupRow
from services.accounts.adapters.page_tokens import decode_token, encode_token, query_fingerprint
from services.accounts.adapters.sql_lists import any_of
from services.accounts.domain.groups import (
    check_description,
    check_move,
    check_name,
    check_placement,
    moved_path,
    path_under,
)


def _check_id(group_id: str, field: str) -> str:
    if len(group_id) > 36:
        raise InvalidArgument(f"{field} is not a group id", field=field)
    return group_id


async def create_group(
    uow: UnitOfWork, program_id: str, *, name: str, parent_id: str, description: str
) -> str:
    check_name(name)
    check_description(description)
    _check_id(parent_id, "parent_group_id")
    s = uow.session
    await lock_tree(s, program_id)
    parent = (
        await get_group(s, program_id, parent_id, field="parent_group_id") if parent_id else None
    )
    group_id = str(uuid.uuid4())
    path = path_under(parent.path if parent else None, group_id)
    check_placement(path, 0, "parent_group_id")
    s.add(
        GroupRow(
            group_id=group_id,
            program_id=program_id,
            parent_id=parent.group_id if parent else None,
            name=name,
            path=path,
            description=description,
        )
    )
    await s.flush()
    return group_id


@dataclass(frozen=True)
class GroupChanges:
    """None leaves a field as it is; parent_id "" moves the group to the top level."""

    name: str | None = None
    parent_id: str | None = None
    description: str | None = None


async def update_group(
    uow: UnitOfWork, program_id: str, group_id: str, changes: GroupChanges
) -> None:
    values: dict[str, object] = {}
    if changes.name is not None:
        values["name"] = check_name(changes.name, "changes.name")
    if changes.description is not None:
        values["description"] = check_description(changes.description, "changes.description")
    s = uow.session
    await lock_tree(s, program_id)
    group = await get_group(s, program_id, group_id)
    if changes.parent_id is not None and changes.parent_id != (group.parent_id or ""):
        await _move(s, program_id, group, changes.parent_id)
    if values:
        await s.execute(
            update(GroupRow)
            .where(GroupRow.program_id == program_id, GroupRow.group_id == group_id)
            .values(**values, updated_at=datetime.now(UTC))
        )


async def _move(s: AsyncSession, program_id: str, group: GroupRow, parent_id: str) -> None:
    field = "changes.parent_group_id"
    _check_id(parent_id, field)
    parent = await get_group(s, program_id, parent_id, field=field) if parent_id else None
    check_move(group.path, parent.path if parent else None, field)
    new_path = path_under(parent.path if parent else None, group.group_id)
    check_placement(new_path, await deepest_level_below(s, program_id, group.path), field)
    old_path = group.path
    subtree = list(
        await s.scalars(
            select(GroupRow).where(
                GroupRow.program_id == program_id,
                GroupRow.path.startswith(old_path, autoescape=True),
            )
        )
    )
    now = datetime.now(UTC)
    await s.execute(
        update(GroupRow),
        [{"group_id": g.group_id, "path": moved_path(g.path, old_path, new_path)} for g in subtree],
    )
    await s.execute(
        update(GroupRow)
        .where(GroupRow.program_id == program_id, GroupRow.group_id == group.group_id)
        .values(parent_id=parent.group_id if parent else None, updated_at=now)
    )


async def delete_group(uow: UnitOfWork, program_id: str, group_id: str) -> None:
    """FAILED_PRECONDITION / GROUP_NOT_EMPTY while it has subgroups or members."""
    s = uow.session
    await lock_tree(s, program_id)
    await get_group(s, program_id, group_id)
    has_children = await s.scalar(
        select(exists().where(GroupRow.program_id == program_id, GroupRow.parent_id == group_id))
    )
    if has_children:
        raise FailedPrecondition(
            "the group has subgroups; move or delete them first",
            reason="GROUP_NOT_EMPTY",
            field="group_id",
        )
    members = await member_counts(s, program_id, [group_id])
    if members.get(group_id):
        raise FailedPrecondition(
            f"the group has {members[group_id]} members; move them to other groups first",
            reason="GROUP_NOT_EMPTY",
            field="group_id",
        )
    await s.execute(
        delete(GroupRow).where(GroupRow.program_id == program_id, GroupRow.group_id == group_id)
    )


async def member_counts(
    session: AsyncSession, program_id: str, group_ids: Sequence[str]
) -> dict[str, int]:
    rows = await session.execute(
        select(MemberGroupRow.group_id, func.count())
        .where(
            MemberGroupRow.program_id == program_id,
            any_of(MemberGroupRow.group_id, group_ids),
        )
        .group_by(MemberGroupRow.group_id)
    )
    return {group_id: int(count) for group_id, count in rows}


async def group_page(
    session: AsyncSession, program_id: str, *, parent_id: str, size: int, token: str
) -> tuple[list[GroupRow], dict[str, int], str]:
    """Groups by name (then id), optionally only one group's children; with member counts."""
    fingerprint = query_fingerprint("groups", parent_id)
    after = decode_token(token, fingerprint, 2)
    query = select(GroupRow).where(GroupRow.program_id == program_id)
    if parent_id:
        _check_id(parent_id, "parent_group_id")
        await get_group(session, program_id, parent_id, field="parent_group_id")
        query = query.where(GroupRow.parent_id == parent_id)
    if after is not None:
        name, last = after
        query = query.where(
            or_(GroupRow.name > name, and_(GroupRow.name == name, GroupRow.group_id > last))
        )
    rows = list(
        await session.scalars(query.order_by(GroupRow.name, GroupRow.group_id).limit(size + 1))
    )
    page = rows[:size]
    counts = await member_counts(session, program_id, [g.group_id for g in page])
    next_token = (
        encode_token(fingerprint, [page[-1].name, page[-1].group_id]) if len(rows) > size else ""
    )
    return page, counts, next_token
