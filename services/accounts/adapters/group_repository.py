"""Group lookups and the lock that keeps the group tree consistent.

Tree changes (create, move, delete) take a per-program advisory lock exclusively; adding
members to groups takes it shared. So two concurrent moves can never build a cycle, and a
group cannot be deleted while a concurrent request puts a member into it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import NotFound
from services.accounts.adapters.orm import GroupRow
from services.accounts.adapters.sql_lists import any_of


async def lock_tree(session: AsyncSession, program_id: str, *, shared: bool = False) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(
        text(f"SELECT {function}(hashtextextended(:key, 0))"),
        {"key": f"tamaru.accounts.groups:{program_id}"},
    )


def group_not_found(group_id: str, field: str) -> NotFound:
    return NotFound(
        f"group {group_id!r} does not exist in this program",
        reason="GROUP_NOT_FOUND",
        field=field,
    )


async def get_group(
    session: AsyncSession, program_id: str, group_id: str, *, field: str = "group_id"
) -> GroupRow:
    row = await session.scalar(
        select(GroupRow).where(GroupRow.program_id == program_id, GroupRow.group_id == group_id)
    )
    if row is None:
        raise group_not_found(group_id, field)
    return row


async def require_groups(
    session: AsyncSession, program_id: str, group_ids: Sequence[str], *, field: str = "group_ids"
) -> None:
    """NOT_FOUND naming the first id the program lacks (`group_ids[2]`). Takes the tree lock
    shared, so the groups stay until the caller's transaction ends."""
    if not group_ids:
        return
    await lock_tree(session, program_id, shared=True)
    found = set(
        await session.scalars(
            select(GroupRow.group_id).where(
                GroupRow.program_id == program_id, any_of(GroupRow.group_id, group_ids)
            )
        )
    )
    for index, group_id in enumerate(group_ids):
        if group_id not in found:
            raise group_not_found(group_id, f"{field}[{index}]")


async def deepest_level_below(session: AsyncSession, program_id: str, path: str) -> int:
    """How many levels the subtree under the group at `path` has (0 for a leaf)."""
    levels = await session.scalar(
        select(
            func.max(func.length(GroupRow.path) - func.length(func.replace(GroupRow.path, "/", "")))
        ).where(GroupRow.program_id == program_id, GroupRow.path.startswith(path, autoescape=True))
    )
    own = path.count("/")
    return int(levels or own) - own
