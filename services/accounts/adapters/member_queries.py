"""Reading members: one member with its identifiers and groups, and filtered keyset pages.

Pages are ordered by (joined_at, member_id), the enrolment order, which stays stable while
members are added (a new member lands on a later page, never shifts an earlier one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from runtime.errors import InvalidArgument, NotFound
from services.accounts.adapters.orm import GroupRow, IdentifierRow, MemberGroupRow, MemberRow
from services.accounts.adapters.page_tokens import (
    FIELD,
    decode_token,
    encode_token,
    query_fingerprint,
)
from services.accounts.adapters.sql_lists import any_of


@dataclass(frozen=True)
class MemberView:
    row: MemberRow
    identifiers: list[IdentifierRow]
    group_ids: list[str]


def member_not_found(member_id: str, field: str = "member") -> NotFound:
    return NotFound(
        f"member {member_id} does not exist in this program",
        reason="MEMBER_NOT_FOUND",
        field=field,
    )


async def group_ids_by_member(
    session: AsyncSession, program_id: str, member_ids: Sequence[str]
) -> dict[str, list[str]]:
    rows = await session.execute(
        select(MemberGroupRow.member_id, MemberGroupRow.group_id)
        .where(
            MemberGroupRow.program_id == program_id,
            any_of(MemberGroupRow.member_id, member_ids),
        )
        .order_by(MemberGroupRow.member_id, MemberGroupRow.group_id)
    )
    groups: dict[str, list[str]] = defaultdict(list)
    for member_id, group_id in rows:
        groups[member_id].append(group_id)
    return groups


async def group_ids_of(session: AsyncSession, program_id: str, member_id: str) -> list[str]:
    """The member's groups, in id order."""
    return (await group_ids_by_member(session, program_id, [member_id])).get(member_id, [])


async def load_views(
    session: AsyncSession, program_id: str, member_ids: Sequence[str]
) -> list[MemberView]:
    """The members (in the order given) with their identifiers and groups: three queries."""
    if not member_ids:
        return []
    ids = list(member_ids)
    rows = {
        r.member_id: r
        for r in await session.scalars(
            select(MemberRow).where(
                MemberRow.program_id == program_id, any_of(MemberRow.member_id, ids)
            )
        )
    }
    identifiers: dict[str, list[IdentifierRow]] = defaultdict(list)
    for ident in await session.scalars(
        select(IdentifierRow)
        .where(IdentifierRow.program_id == program_id, any_of(IdentifierRow.member_id, ids))
        .order_by(IdentifierRow.linked_at, IdentifierRow.kind, IdentifierRow.value)
    ):
        identifiers[ident.member_id].append(ident)
    groups = await group_ids_by_member(session, program_id, ids)
    return [
        MemberView(rows[i], identifiers.get(i, []), groups.get(i, [])) for i in ids if i in rows
    ]


async def load_view(session: AsyncSession, program_id: str, member_id: str) -> MemberView:
    views = await load_views(session, program_id, [member_id])
    if not views:
        raise member_not_found(member_id)
    return views[0]


@dataclass(frozen=True)
class MemberFilter:
    """All optional, combined with AND. `group_path` is the group's path when `group_id`
    is set (the caller looked the group up, so an unknown group is NOT_FOUND, not empty)."""

    group_id: str = ""
    group_path: str = ""
    include_subgroups: bool = False
    status: str = ""
    tier_id: str = ""
    text: str = ""

    def conditions(self, program_id: str) -> list[ColumnElement[bool]]:
        m = MemberRow
        found: list[ColumnElement[bool]] = [m.program_id == program_id]
        if self.group_id and self.include_subgroups:
            found.append(
                exists().where(
                    MemberGroupRow.member_id == m.member_id,
                    MemberGroupRow.program_id == program_id,
                    GroupRow.group_id == MemberGroupRow.group_id,
                    GroupRow.program_id == program_id,
                    GroupRow.path.startswith(self.group_path, autoescape=True),
                )
            )
        elif self.group_id:
            found.append(
                exists().where(
                    MemberGroupRow.member_id == m.member_id,
                    MemberGroupRow.program_id == program_id,
                    MemberGroupRow.group_id == self.group_id,
                )
            )
        if self.status:
            found.append(m.status == self.status)
        if self.tier_id:
            found.append(m.tier_id == self.tier_id)
        if self.text:
            found.append(
                or_(
                    m.display_name.icontains(self.text, autoescape=True),
                    m.email.icontains(self.text, autoescape=True),
                    m.phone.icontains(self.text, autoescape=True),
                    m.external_ref.icontains(self.text, autoescape=True),
                    exists().where(
                        IdentifierRow.program_id == program_id,
                        IdentifierRow.member_id == m.member_id,
                        IdentifierRow.value.icontains(self.text, autoescape=True),
                    ),
                )
            )
        return found

    def fingerprint(self) -> str:
        return query_fingerprint(
            self.group_id, self.include_subgroups, self.status, self.tier_id, self.text
        )


async def member_page(
    session: AsyncSession, program_id: str, where: MemberFilter, *, size: int, token: str
) -> tuple[list[str], str]:
    """The ids of one page of members and the token of the next ("" on the last page)."""
    fingerprint = where.fingerprint()
    after = decode_token(token, fingerprint, 2)
    m = MemberRow
    query = select(m.member_id, m.joined_at).where(*where.conditions(program_id))
    if after is not None:
        at = _token_time(after[0])
        query = query.where(or_(m.joined_at > at, and_(m.joined_at == at, m.member_id > after[1])))
    rows = (await session.execute(query.order_by(m.joined_at, m.member_id).limit(size + 1))).all()
    ids = [member_id for member_id, _ in rows[:size]]
    if len(rows) <= size:
        return ids, ""
    last_id, last_at = rows[size - 1]
    return ids, encode_token(fingerprint, [last_at.isoformat(), last_id])


def _token_time(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidArgument("page_token is not one this service issued", field=FIELD)
    return at
