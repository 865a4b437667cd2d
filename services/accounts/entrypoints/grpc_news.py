"""News RPCs of AccountsService: administrators post and schedule; members' backends list
what a member sees now."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from runtime.auth import Role
from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument, PermissionDenied
from services.accounts.adapters.event_mapping import timestamp
from services.accounts.adapters.ledger_queries import page_size
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.adapters.orm import NewsRow
from services.accounts.domain.news import news_status
from services.accounts.entrypoints.ledger_convert import optional_time
from services.accounts.entrypoints.member_convert import mask_paths
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer import news
from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tamaru.common.v1 import common_pb2

SEE_UNPUBLISHED = frozenset({Role.ADMIN, Role.READONLY})


def news_proto(row: NewsRow, now: datetime) -> members_pb2.NewsPost:
    post = members_pb2.NewsPost(
        news_id=row.news_id,
        title=row.title,
        body=row.body,
        group_ids=list(row.group_ids),
        status=members_pb2.NewsStatus.Value(
            f"NEWS_STATUS_{news_status(row.publish_at, row.unpublished_at, now).value.upper()}"
        ),
        publish_at=timestamp(row.publish_at),
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )
    if row.unpublished_at is not None:
        post.unpublish_at.CopyFrom(timestamp(row.unpublished_at))
    return post


def _news_id(value: str) -> str:
    if not value:
        raise InvalidArgument("news_id is required", field="news_id")
    if len(value) > 36:
        raise InvalidArgument("news_id is not a news post id", field="news_id")
    return value


class NewsRpcs(RpcBase):
    async def PostNews(
        self, request: accounts_pb2.PostNewsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.PostNewsResponse:
        author = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.PostNewsResponse:
            news_id = await news.post_news(
                uow,
                program_id,
                title=request.title,
                body=request.body,
                group_ids=list(request.group_ids),
                publish_at=optional_time(request.publish_at, request.HasField("publish_at")),
                unpublish_at=optional_time(request.unpublish_at, request.HasField("unpublish_at")),
                author=author,
            )
            row = await news.get_news(uow.session, program_id, news_id)
            return accounts_pb2.PostNewsResponse(news=news_proto(row, datetime.now(UTC)))

        return await self.mutate("PostNews", request, accounts_pb2.PostNewsResponse, work)

    async def UpdateNews(
        self, request: accounts_pb2.UpdateNewsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.UpdateNewsResponse:
        news_id = _news_id(request.news_id)
        paths = mask_paths(
            request.update_mask, ("title", "body", "group_ids", "publish_at", "unpublish_at")
        )
        c = request.changes
        if "publish_at" in paths and not c.HasField("publish_at"):
            raise InvalidArgument("changes.publish_at is required", field="changes.publish_at")
        changes = news.NewsChanges(
            title=c.title if "title" in paths else None,
            body=c.body if "body" in paths else None,
            group_ids=tuple(c.group_ids) if "group_ids" in paths else None,
            publish_at=optional_time(c.publish_at, "publish_at" in paths),
            unpublish_at=optional_time(c.unpublish_at, c.HasField("unpublish_at")),
            change_unpublish_at="unpublish_at" in paths,
        )

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.UpdateNewsResponse:
            await news.update_news(uow, program_id, news_id, changes)
            row = await news.get_news(uow.session, program_id, news_id)
            return accounts_pb2.UpdateNewsResponse(news=news_proto(row, datetime.now(UTC)))

        return await self.mutate("UpdateNews", request, accounts_pb2.UpdateNewsResponse, work)

    async def UnpublishNews(
        self, request: accounts_pb2.UnpublishNewsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.UnpublishNewsResponse:
        news_id = _news_id(request.news_id)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.UnpublishNewsResponse:
            await news.unpublish_news(uow, program_id, news_id)
            row = await news.get_news(uow.session, program_id, news_id)
            return accounts_pb2.UnpublishNewsResponse(news=news_proto(row, datetime.now(UTC)))

        return await self.mutate("UnpublishNews", request, accounts_pb2.UnpublishNewsResponse, work)

    async def ListNews(
        self, request: accounts_pb2.ListNewsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListNewsResponse:
        size = page_size(request.page.page_size)
        if request.include_unpublished and self.caller().role not in SEE_UNPUBLISHED:
            # Scheduled posts may announce what is not public yet (a campaign next month).
            raise PermissionDenied(
                "only admin and readonly keys may list scheduled and unpublished news",
                field="include_unpublished",
            )

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ListNewsResponse:
            member_id = (
                await resolve_account_id(uow.session, program_id, request.member)
                if request.HasField("member")
                else None
            )
            now = datetime.now(UTC)
            rows, token = await news.news_page(
                uow.session,
                program_id,
                member_id=member_id,
                include_unpublished=request.include_unpublished,
                size=size,
                token=request.page.page_token,
                now=now,
            )
            return accounts_pb2.ListNewsResponse(
                news=[news_proto(r, now) for r in rows],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await self.read(work)
