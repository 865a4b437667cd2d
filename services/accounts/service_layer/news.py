"""News handlers: post (now or scheduled), update, unpublish, list, and announce.

A post is visible from `publish_at` until `unpublished_at`. `news_published` goes out once
per post: at once when it is posted (or changed) to be visible now, else by
`announce_due_news` when its publish time comes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument, NotFound
from services.accounts.adapters.group_repository import require_groups
from services.accounts.adapters.orm import GroupRow, MemberGroupRow, NewsRow
from services.accounts.adapters.page_tokens import (
    FIELD,
    decode_token,
    encode_token,
    query_fingerprint,
)
from services.accounts.domain.groups import ancestors_and_self
from services.accounts.domain.members import check_group_ids
from services.accounts.domain.news import (
    NewsStatus,
    check_body,
    check_title,
    check_window,
    news_status,
)
from tamaru.accounts.v1 import events_pb2


def news_not_found(news_id: str) -> NotFound:
    return NotFound(
        f"news post {news_id!r} does not exist in this program",
        reason="NEWS_NOT_FOUND",
        field="news_id",
    )


def visible_at(now: datetime) -> list[ColumnElement[bool]]:
    return [
        NewsRow.publish_at <= now,
        or_(NewsRow.unpublished_at.is_(None), NewsRow.unpublished_at > now),
    ]


async def _announce(uow: UnitOfWork, row: NewsRow, now: datetime) -> None:
    await uow.emit(
        row.program_id,
        "news_published",
        events_pb2.NewsPublished(
            program_id=row.program_id,
            news_id=row.news_id,
            title=row.title,
            group_ids=list(row.group_ids),
        ),
        aggregate_id=row.news_id,
        occurred_at=now,
    )
    await uow.session.execute(
        update(NewsRow).where(NewsRow.news_id == row.news_id).values(announced_at=now)
    )


async def post_news(
    uow: UnitOfWork,
    program_id: str,
    *,
    title: str,
    body: str,
    group_ids: Sequence[str],
    publish_at: datetime | None,
    unpublish_at: datetime | None,
    author: str,
) -> str:
    now = datetime.now(UTC)
    check_title(title)
    check_body(body)
    groups = check_group_ids(group_ids)
    publish_at = publish_at or now
    check_window(publish_at, unpublish_at)
    if unpublish_at is not None and unpublish_at <= now:
        raise InvalidArgument("unpublish_at must be in the future", field="unpublish_at")
    await require_groups(uow.session, program_id, groups)
    row = NewsRow(
        news_id=str(uuid.uuid4()),
        program_id=program_id,
        title=title,
        body=body,
        group_ids=list(groups),
        publish_at=publish_at,
        unpublished_at=unpublish_at,
        author=author,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    if news_status(publish_at, unpublish_at, now) is NewsStatus.PUBLISHED:
        await _announce(uow, row, now)
    return row.news_id


async def lock_news(session: AsyncSession, program_id: str, news_id: str) -> NewsRow:
    row = await session.scalar(
        select(NewsRow)
        .where(NewsRow.program_id == program_id, NewsRow.news_id == news_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise news_not_found(news_id)
    return row


@dataclass(frozen=True)
class NewsChanges:
    """None leaves a field as it is. `unpublish_at` may change to None (shown until
    unpublished), so `change_unpublish_at` says whether it changes."""

    title: str | None = None
    body: str | None = None
    group_ids: tuple[str, ...] | None = None
    publish_at: datetime | None = None
    unpublish_at: datetime | None = None
    change_unpublish_at: bool = False


async def update_news(uow: UnitOfWork, program_id: str, news_id: str, changes: NewsChanges) -> None:
    now = datetime.now(UTC)
    values: dict[str, object] = {}
    if changes.title is not None:
        values["title"] = check_title(changes.title, "changes.title")
    if changes.body is not None:
        values["body"] = check_body(changes.body, "changes.body")
    s = uow.session
    if changes.group_ids is not None:
        groups = check_group_ids(changes.group_ids, "changes.group_ids")
        await require_groups(s, program_id, groups, field="changes.group_ids")
        values["group_ids"] = list(groups)
    row = await lock_news(s, program_id, news_id)
    publish_at = changes.publish_at or row.publish_at
    unpublish_at = changes.unpublish_at if changes.change_unpublish_at else row.unpublished_at
    if changes.publish_at is not None:
        values["publish_at"] = changes.publish_at
    if changes.change_unpublish_at:
        values["unpublished_at"] = changes.unpublish_at
    try:
        check_window(publish_at, unpublish_at)
    except InvalidArgument as exc:
        exc.field = "changes.unpublish_at"
        raise
    if not values:
        return
    await s.execute(
        update(NewsRow).where(NewsRow.news_id == news_id).values(**values, updated_at=now)
    )
    row = await lock_news(s, program_id, news_id)
    if row.announced_at is None and news_status(publish_at, unpublish_at, now) is (
        NewsStatus.PUBLISHED
    ):
        await _announce(uow, row, now)


async def unpublish_news(uow: UnitOfWork, program_id: str, news_id: str) -> None:
    """Hide the post from now on (a no-op for a post already hidden)."""
    now = datetime.now(UTC)
    row = await lock_news(uow.session, program_id, news_id)
    if news_status(row.publish_at, row.unpublished_at, now) is NewsStatus.UNPUBLISHED:
        return
    await uow.session.execute(
        update(NewsRow).where(NewsRow.news_id == news_id).values(unpublished_at=now, updated_at=now)
    )


async def get_news(session: AsyncSession, program_id: str, news_id: str) -> NewsRow:
    row = await session.scalar(
        select(NewsRow)
        .where(NewsRow.program_id == program_id, NewsRow.news_id == news_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise news_not_found(news_id)
    return row


async def audience_of(session: AsyncSession, program_id: str, member_id: str) -> list[str]:
    """The member's groups and all their ancestors: a post for any of them reaches it."""
    paths = await session.scalars(
        select(GroupRow.path).where(
            GroupRow.program_id == program_id,
            GroupRow.group_id.in_(
                select(MemberGroupRow.group_id).where(
                    MemberGroupRow.program_id == program_id, MemberGroupRow.member_id == member_id
                )
            ),
        )
    )
    return sorted({gid for path in paths for gid in ancestors_and_self(path)})


async def news_page(
    session: AsyncSession,
    program_id: str,
    *,
    member_id: str | None,
    include_unpublished: bool,
    size: int,
    token: str,
    now: datetime | None = None,
) -> tuple[list[NewsRow], str]:
    """Newest publish time first. For a member: what it sees now. Else every post visible now,
    or with `include_unpublished` every post (scheduled and unpublished ones too)."""
    now = now or datetime.now(UTC)
    fingerprint = query_fingerprint("news", member_id, include_unpublished and not member_id)
    after = decode_token(token, fingerprint, 2)
    query = select(NewsRow).where(NewsRow.program_id == program_id)
    if member_id is not None:
        audience = await audience_of(session, program_id, member_id)
        query = query.where(
            *visible_at(now),
            or_(
                func.cardinality(NewsRow.group_ids) == 0,
                NewsRow.group_ids.overlap(audience),
            ),
        )
    elif not include_unpublished:
        query = query.where(*visible_at(now))
    if after is not None:
        try:
            at = datetime.fromisoformat(after[0])
        except ValueError:
            raise InvalidArgument(
                "page_token is not one this service issued", field=FIELD
            ) from None
        query = query.where(
            or_(NewsRow.publish_at < at, and_(NewsRow.publish_at == at, NewsRow.news_id < after[1]))
        )
    rows = list(
        await session.scalars(
            query.order_by(NewsRow.publish_at.desc(), NewsRow.news_id.desc()).limit(size + 1)
        )
    )
    page = rows[:size]
    next_token = (
        encode_token(fingerprint, [page[-1].publish_at.isoformat(), page[-1].news_id])
        if len(rows) > size
        else ""
    )
    return page, next_token


async def announce_due_news(uow: UnitOfWork, now: datetime, limit: int = 100) -> int:
    """Announce scheduled posts whose time came, in every program; returns how many. Rows are
    claimed with SKIP LOCKED, so several replicas can run this side by side."""
    rows = list(
        await uow.session.scalars(
            select(NewsRow)
            .where(NewsRow.announced_at.is_(None), *visible_at(now))
            .order_by(NewsRow.publish_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        await _announce(uow, row, now)
    return len(rows)
