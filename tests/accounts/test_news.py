"""News: administrators post now or schedule; members see what is published now for their
groups (and parent groups); news_published goes out once, when a post becomes visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from runtime.auth import Role
from runtime.service import ServiceApp
from services.accounts.service_layer.news import announce_due_news
from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import (
    by_id,
    create_group,
    key,
    mask,
    outbox_events,
    page,
    refused,
)


def at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def post(accounts: Accounts, title: str, **fields: Any) -> members_pb2.NewsPost:
    reply = await accounts.call(
        "PostNews",
        accounts_pb2.PostNewsRequest(
            idempotency_key=key(), title=title, body=f"{title} body", **fields
        ),
    )
    news: members_pb2.NewsPost = reply.news
    return news


async def titles(accounts: Accounts, request: accounts_pb2.ListNewsRequest) -> list[str]:
    reply = await accounts.call("ListNews", request)
    return [n.title for n in reply.news]


async def test_members_see_published_news_for_their_groups(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    region = await create_group(accounts, "Kanto")
    store = await create_group(accounts, "Shibuya", parent=region)
    other = await create_group(accounts, "Kansai")
    in_store = await accounts.enrol("n-store", group_ids=[store])
    elsewhere = await accounts.enrol("n-other", group_ids=[other])
    now = datetime.now(UTC)

    everyone = await post(accounts, "For everyone")
    assert everyone.status == members_pb2.NEWS_STATUS_PUBLISHED
    await post(accounts, "For Kanto", group_ids=[region])
    scheduled = await post(accounts, "Next month", publish_at=at(now + timedelta(days=30)))
    assert scheduled.status == members_pb2.NEWS_STATUS_SCHEDULED
    await post(accounts, "For Kansai", group_ids=[other])
    hidden = await post(accounts, "Withdrawn")
    await accounts.call(
        "UnpublishNews",
        accounts_pb2.UnpublishNewsRequest(idempotency_key=key(), news_id=hidden.news_id),
    )

    # A member of Shibuya sees Kanto's news (a parent group) and everyone's, newest first.
    assert await titles(accounts, accounts_pb2.ListNewsRequest(member=by_id(in_store))) == [
        "For Kanto",
        "For everyone",
    ]
    assert await titles(accounts, accounts_pb2.ListNewsRequest(member=by_id(elsewhere))) == [
        "For Kansai",
        "For everyone",
    ]
    # Without a member: what is published now; administrators may ask for everything.
    assert await titles(accounts, accounts_pb2.ListNewsRequest()) == [
        "For Kansai",
        "For Kanto",
        "For everyone",
    ]
    everything = await accounts.call(
        "ListNews", accounts_pb2.ListNewsRequest(include_unpublished=True)
    )
    statuses = {n.title: n.status for n in everything.news}
    assert statuses["Next month"] == members_pb2.NEWS_STATUS_SCHEDULED
    assert statuses["Withdrawn"] == members_pb2.NEWS_STATUS_UNPUBLISHED
    await refused(
        accounts.as_role(Role.BACKEND).call(
            "ListNews", accounts_pb2.ListNewsRequest(include_unpublished=True)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        field="include_unpublished",
    )

    published = await outbox_events(accounts_app, accounts.program.program_id, "news_published")
    assert sorted(e.title for e in published) == [
        "For Kansai",
        "For Kanto",
        "For everyone",
        "Withdrawn",
    ]
    assert [list(e.group_ids) for e in published if e.title == "For Kanto"] == [[region]]


async def test_scheduled_news_is_announced_once_when_its_time_comes(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    assert accounts_app.ctx is not None
    program = accounts.program.program_id
    soon = datetime.now(UTC) + timedelta(hours=1)
    scheduled = await post(accounts, "Summer sale", publish_at=at(soon))
    assert await outbox_events(accounts_app, program, "news_published") == []

    async with accounts_app.ctx.uow() as uow:
        # Other tests' programs may have due posts too: count only this program's events.
        await announce_due_news(uow, soon + timedelta(seconds=1), limit=1000)
        await uow.commit()
    async with accounts_app.ctx.uow() as uow:
        await announce_due_news(uow, soon + timedelta(seconds=2), limit=1000)
        await uow.commit()
    announced = await outbox_events(accounts_app, program, "news_published")
    assert [e.news_id for e in announced] == [scheduled.news_id]


async def test_update_news_and_page_through(accounts: Accounts, accounts_app: ServiceApp) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    draft = await post(accounts, "Draft", publish_at=at(later))
    updated = await accounts.call(
        "UpdateNews",
        accounts_pb2.UpdateNewsRequest(
            idempotency_key=key(),
            news_id=draft.news_id,
            changes=members_pb2.NewsPost(
                title="Final", publish_at=at(datetime.now(UTC) - timedelta(minutes=1))
            ),
            update_mask=mask("title", "publish_at"),
        ),
    )
    assert (updated.news.title, updated.news.status) == ("Final", members_pb2.NEWS_STATUS_PUBLISHED)
    assert [
        e.title
        for e in await outbox_events(accounts_app, accounts.program.program_id, "news_published")
    ] == ["Final"]

    for i in range(4):
        await post(accounts, f"Post {i}")
    first = await accounts.call("ListNews", accounts_pb2.ListNewsRequest(page=page(2)))
    second = await accounts.call(
        "ListNews", accounts_pb2.ListNewsRequest(page=page(2, first.page.next_page_token))
    )
    third = await accounts.call(
        "ListNews", accounts_pb2.ListNewsRequest(page=page(2, second.page.next_page_token))
    )
    seen = [n.title for r in (first, second, third) for n in r.news]
    assert sorted(seen) == ["Final", "Post 0", "Post 1", "Post 2", "Post 3"]
    assert third.page.next_page_token == ""


async def test_bad_news_requests_name_the_field_and_change_nothing(accounts: Accounts) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    now = datetime.now(UTC)
    await refused(post(accounts, ""), invalid, field="title")
    await refused(post(accounts, "t" * 301), invalid, field="title")
    await refused(
        post(accounts, "bad window", publish_at=at(now), unpublish_at=at(now - timedelta(days=1))),
        invalid,
        field="unpublish_at",
    )
    await refused(
        post(accounts, "groups", group_ids=["nope"]),
        grpc.StatusCode.NOT_FOUND,
        field="group_ids[0]",
    )
    good = await post(accounts, "Good")
    await refused(
        accounts.call(
            "UpdateNews",
            accounts_pb2.UpdateNewsRequest(
                idempotency_key=key(),
                news_id=good.news_id,
                changes=members_pb2.NewsPost(body=""),
                update_mask=mask("body"),
            ),
        ),
        invalid,
        field="changes.body",
    )
    await refused(
        accounts.call(
            "UnpublishNews",
            accounts_pb2.UnpublishNewsRequest(idempotency_key=key(), news_id="missing"),
        ),
        grpc.StatusCode.NOT_FOUND,
        field="news_id",
    )
    listed = await accounts.call("ListNews", accounts_pb2.ListNewsRequest(include_unpublished=True))
    assert [(n.title, n.body) for n in listed.news] == [("Good", "Good body")]
