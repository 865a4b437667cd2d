"""gRPC `tamaru.catalog.v1.CatalogService`: proto -> checked command -> service layer -> proto.

Every call acts for the caller's program (from its API key); admin methods called with a
platform key act on the shared catalog instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.errors import InvalidArgument
from runtime.grpcserver import current_principal
from runtime.service import ServiceContext
from services.catalog.adapters.messages import (
    ITEM_TYPE_OF,
    REASONS,
    REQUEST_STATUS_OF,
    SORT_ORDERS,
    draft_from_proto,
    item_request_to_proto,
    item_to_proto,
    prefecture_to_proto,
    quote_to_proto,
    stock_to_proto,
)
from services.catalog.domain.csv_format import MAX_BYTES
from services.catalog.domain.item_requests import (
    RequestStatus,
    validate_new_request,
    validate_resolution,
)
from services.catalog.domain.items import ItemType, require_sku
from services.catalog.domain.recommendations import (
    MAX_GROUP_ID,
    explain,
    recommendation_count,
)
from services.catalog.domain.reservations import LineRequest, require_id
from services.catalog.domain.search import SortOrder, validate_search
from services.catalog.entrypoints.caller import manages, owner_of, require_manager, view_of
from services.catalog.service_layer import (
    browse,
    codes,
    csv_io,
    item_requests,
    items,
    recommendations,
    shipping,
)
from services.catalog.service_layer.idempotent import run_once
from services.catalog.service_layer.programs import shipping_rules
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, requests_pb2, shipping_pb2
from tamaru.common.v1 import common_pb2

Resp = TypeVar("Resp", bound=Message)
MAX_CHUNK = 1024 * 1024


def now() -> datetime:
    return datetime.now(UTC)


def item_types(values: Any) -> list[ItemType]:
    out = []
    for index, value in enumerate(values):
        if value not in ITEM_TYPE_OF:
            raise InvalidArgument(f"unknown item type {value}", field=f"types[{index}]")
        out.append(ITEM_TYPE_OF[value])
    return out


def sort_order(value: int) -> SortOrder | None:
    if value == catalog_pb2.SORT_ORDER_UNSPECIFIED:
        return None
    if value not in SORT_ORDERS:
        raise InvalidArgument(f"unknown sort order {value}", field="sort")
    return SORT_ORDERS[value]  # type: ignore[index]


def request_status(value: int, field: str = "status") -> RequestStatus | None:
    if value == requests_pb2.ITEM_REQUEST_STATUS_UNSPECIFIED:
        return None
    if value not in REQUEST_STATUS_OF:
        raise InvalidArgument(f"unknown status {value}", field=field)
    return REQUEST_STATUS_OF[value]  # type: ignore[index]


def optional_id(value: str, field: str) -> str:
    if len(value) > MAX_GROUP_ID:
        raise InvalidArgument(f"{field} is longer than {MAX_GROUP_ID} characters", field=field)
    return value.strip()


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def _once(
        self,
        method: str,
        key: str,
        request: Message,
        response_type: type[Resp],
        action: Callable[[UnitOfWork], Awaitable[Resp]],
    ) -> Resp:
        program_id = current_principal().program_id
        return await run_once(
            self._ctx.uow, program_id, f"catalog.{method}", key, request, response_type, action
        )

    # Browse -------------------------------------------------------------------------------

    async def SearchItems(
        self, request: catalog_pb2.SearchItemsRequest, context: Any
    ) -> catalog_pb2.SearchItemsResponse:
        principal = current_principal()
        if request.include_unavailable:
            require_manager(principal, "include_unavailable")
        query = validate_search(
            query=request.query,
            categories=list(request.categories),
            types=item_types(request.types),
            min_price_points=request.min_price_points,
            max_price_points=(
                request.max_price_points if request.HasField("max_price_points") else None
            ),
            in_stock_only=request.in_stock_only,
            sort=sort_order(request.sort),
            include_unavailable=request.include_unavailable,
        )
        view = view_of(principal, self._ctx.programs)
        found, token = await run_read(
            self._ctx.uow,
            lambda uow: browse.search_items(
                uow.session,
                view,
                query,
                page_size=request.page.page_size,
                page_token=request.page.page_token,
                now=now(),
            ),
        )
        return catalog_pb2.SearchItemsResponse(
            items=[item_to_proto(item) for item in found],
            page=common_pb2.PageResponse(next_page_token=token),
        )

    async def GetItem(
        self, request: catalog_pb2.GetItemRequest, context: Any
    ) -> catalog_pb2.GetItemResponse:
        principal = current_principal()
        sku = require_sku(request.sku)
        item = await run_read(
            self._ctx.uow,
            lambda uow: items.get_item(
                uow.session,
                view_of(principal, self._ctx.programs),
                sku,
                include_unavailable=manages(principal),
                now=now(),
            ),
        )
        return catalog_pb2.GetItemResponse(item=item_to_proto(item))

    async def RecommendItems(
        self, request: catalog_pb2.RecommendItemsRequest, context: Any
    ) -> catalog_pb2.RecommendItemsResponse:
        principal = current_principal()
        member_id = require_id(request.member_id, "member_id")
        limit = recommendation_count(request.page_size)
        chosen = await run_read(
            self._ctx.uow,
            lambda uow: recommendations.recommend(
                uow.session,
                view_of(principal, self._ctx.programs),
                member_id=member_id,
                group_id=optional_id(request.group_id, "group_id"),
                tier_id=optional_id(request.tier_id, "tier_id"),
                limit=limit,
                now=now(),
            ),
        )
        return catalog_pb2.RecommendItemsResponse(
            recommendations=[
                catalog_pb2.Recommendation(
                    item=item_to_proto(item),
                    reason=REASONS[candidate.reason],
                    explanation=explain(candidate),
                    member_count=candidate.member_count,
                )
                for item, candidate in chosen
            ]
        )

    async def QuoteShipping(
        self, request: shipping_pb2.QuoteShippingRequest, context: Any
    ) -> shipping_pb2.QuoteShippingResponse:
        principal = current_principal()
        spec = self._ctx.programs.spec(principal.program_id)
        quote = await run_read(
            self._ctx.uow,
            lambda uow: shipping.quote_shipping(
                uow.session,
                view_of(principal, self._ctx.programs),
                shipping_rules(spec),
                [LineRequest(line.sku, line.quantity) for line in request.lines],
                request.prefecture,
                request.postal_code,
            ),
        )
        return quote_to_proto(quote)

    async def ListShippingRegions(
        self, request: catalog_pb2.ListShippingRegionsRequest, context: Any
    ) -> catalog_pb2.ListShippingRegionsResponse:
        rules = shipping_rules(self._ctx.programs.spec(current_principal().program_id))
        return catalog_pb2.ListShippingRegionsResponse(
            prefectures=[
                catalog_pb2.ShippingRegion(
                    prefecture=prefecture_to_proto(prefecture),
                    deliverable=deliverable,
                    fee_points=fee,
                )
                for prefecture, deliverable, fee in rules.prefecture_table()
            ],
            postal_code_regions=[
                catalog_pb2.PostalCodeRegion(
                    region=rule.region,
                    postal_code_prefixes=list(rule.postal_code_prefixes),
                    deliverable=rule.deliverable,
                    fee_points=rule.fee_points,
                )
                for rule in rules.rules
                if rule.postal_code_prefixes
            ],
        )

    # Item administration ------------------------------------------------------------------

    async def CreateItem(
        self, request: catalog_pb2.CreateItemRequest, context: Any
    ) -> catalog_pb2.CreateItemResponse:
        principal = current_principal()
        draft = draft_from_proto(request.item)

        async def create(uow: UnitOfWork) -> catalog_pb2.CreateItemResponse:
            item = await items.create_item(
                uow,
                owner_of(principal),
                draft,
                initial_stock=request.initial_stock,
                unlimited=request.unlimited_stock,
                key_id=principal.key_id,
            )
            return catalog_pb2.CreateItemResponse(item=item_to_proto(item))

        return await self._once(
            "CreateItem", request.idempotency_key, request, catalog_pb2.CreateItemResponse, create
        )

    async def UpdateItem(
        self, request: catalog_pb2.UpdateItemRequest, context: Any
    ) -> catalog_pb2.UpdateItemResponse:
        principal = current_principal()
        draft = draft_from_proto(request.item)

        async def update(uow: UnitOfWork) -> catalog_pb2.UpdateItemResponse:
            item, _ = await items.update_item(uow, owner_of(principal), draft)
            return catalog_pb2.UpdateItemResponse(item=item_to_proto(item))

        return await self._once(
            "UpdateItem", request.idempotency_key, request, catalog_pb2.UpdateItemResponse, update
        )

    async def DeleteItem(
        self, request: catalog_pb2.DeleteItemRequest, context: Any
    ) -> catalog_pb2.DeleteItemResponse:
        principal = current_principal()
        sku = require_sku(request.sku)

        async def delete(uow: UnitOfWork) -> catalog_pb2.DeleteItemResponse:
            item = await items.archive_item(uow, owner_of(principal), sku)
            return catalog_pb2.DeleteItemResponse(item=item_to_proto(item))

        return await self._once(
            "DeleteItem", request.idempotency_key, request, catalog_pb2.DeleteItemResponse, delete
        )

    async def ImportItems(
        self, request_iterator: AsyncIterator[catalog_pb2.ImportItemsRequest], context: Any
    ) -> catalog_pb2.ImportItemsResponse:
        principal = current_principal()
        key = ""
        chunks: list[bytes] = []
        size = 0
        async for message in request_iterator:
            if message.idempotency_key:
                if key and message.idempotency_key != key:
                    raise InvalidArgument(
                        "every message of one import must carry the same idempotency_key",
                        field="idempotency_key",
                    )
                key = message.idempotency_key
            if len(message.csv_chunk) > MAX_CHUNK:
                raise InvalidArgument(
                    f"csv_chunk is larger than {MAX_CHUNK} bytes", field="csv_chunk"
                )
            size += len(message.csv_chunk)
            if size > MAX_BYTES:
                raise InvalidArgument(f"the CSV is larger than {MAX_BYTES} bytes", field="csv")
            chunks.append(message.csv_chunk)
        data = b"".join(chunks)
        # The idempotency fingerprint covers the whole file, however it was chunked.
        whole = catalog_pb2.ImportItemsRequest(csv_chunk=data)

        async def run_import(uow: UnitOfWork) -> catalog_pb2.ImportItemsResponse:
            summary = await csv_io.import_items(uow, owner_of(principal), data, principal.key_id)
            return catalog_pb2.ImportItemsResponse(
                created=summary.created, updated=summary.updated, unchanged=summary.unchanged
            )

        return await self._once(
            "ImportItems", key, whole, catalog_pb2.ImportItemsResponse, run_import
        )

    async def ExportItems(
        self, request: catalog_pb2.ExportItemsRequest, context: Any
    ) -> AsyncIterator[catalog_pb2.ExportItemsResponse]:
        owner = owner_of(current_principal())
        async for text in csv_io.export_items(self._ctx.uow, owner):
            yield catalog_pb2.ExportItemsResponse(csv_chunk=text.encode("utf-8"))

    async def GetStock(
        self, request: catalog_pb2.GetStockRequest, context: Any
    ) -> catalog_pb2.GetStockResponse:
        principal = current_principal()
        sku = require_sku(request.sku)
        item = await run_read(
            self._ctx.uow,
            lambda uow: items.get_item(
                uow.session,
                view_of(principal, self._ctx.programs),
                sku,
                include_unavailable=True,
                now=now(),
            ),
        )
        return catalog_pb2.GetStockResponse(stock=stock_to_proto(item.sku, item.stock))

    async def AdjustStock(
        self, request: catalog_pb2.AdjustStockRequest, context: Any
    ) -> catalog_pb2.AdjustStockResponse:
        principal = current_principal()
        sku = require_sku(request.sku)

        async def adjust(uow: UnitOfWork) -> catalog_pb2.AdjustStockResponse:
            stock = await items.adjust_stock(
                uow, owner_of(principal), sku, request.delta, request.reason, principal.key_id
            )
            return catalog_pb2.AdjustStockResponse(stock=stock_to_proto(sku, stock))

        return await self._once(
            "AdjustStock",
            request.idempotency_key,
            request,
            catalog_pb2.AdjustStockResponse,
            adjust,
        )

    async def UploadCodes(
        self, request: catalog_pb2.UploadCodesRequest, context: Any
    ) -> catalog_pb2.UploadCodesResponse:
        principal = current_principal()
        sku = require_sku(request.sku)

        async def upload(uow: UnitOfWork) -> catalog_pb2.UploadCodesResponse:
            result = await codes.upload_codes(
                uow, owner_of(principal), sku, list(request.codes), principal.key_id
            )
            return catalog_pb2.UploadCodesResponse(
                added=result.added,
                skipped=result.skipped,
                stock=stock_to_proto(sku, result.stock),
            )

        return await self._once(
            "UploadCodes",
            request.idempotency_key,
            request,
            catalog_pb2.UploadCodesResponse,
            upload,
        )

    # Member item requests -----------------------------------------------------------------

    async def RequestItem(
        self, request: catalog_pb2.RequestItemRequest, context: Any
    ) -> catalog_pb2.RequestItemResponse:
        principal = current_principal()
        self._ctx.programs.require_open(principal.program_id)
        new = validate_new_request(request.member_id, request.sku, request.title, request.note)
        view = view_of(principal, self._ctx.programs)

        async def ask(uow: UnitOfWork) -> catalog_pb2.RequestItemResponse:
            created = await item_requests.request_item(uow, view, new, now())
            return catalog_pb2.RequestItemResponse(request=item_request_to_proto(created))

        return await self._once(
            "RequestItem", request.idempotency_key, request, catalog_pb2.RequestItemResponse, ask
        )

    async def ListItemRequests(
        self, request: catalog_pb2.ListItemRequestsRequest, context: Any
    ) -> catalog_pb2.ListItemRequestsResponse:
        principal = current_principal()
        member_id = optional_id(request.member_id, "member_id")
        found, token = await run_read(
            self._ctx.uow,
            lambda uow: item_requests.list_requests(
                uow.session,
                principal.program_id,
                member_id=member_id,
                status=request_status(request.status),
                page_size=request.page.page_size,
                page_token=request.page.page_token,
            ),
        )
        return catalog_pb2.ListItemRequestsResponse(
            requests=[item_request_to_proto(r) for r in found],
            page=common_pb2.PageResponse(next_page_token=token),
        )

    async def ResolveItemRequest(
        self, request: catalog_pb2.ResolveItemRequestRequest, context: Any
    ) -> catalog_pb2.ResolveItemRequestResponse:
        principal = current_principal()
        resolution = validate_resolution(
            request.request_id,
            request_status(request.status),
            request.resolved_sku,
            request.resolution_note,
        )
        view = view_of(principal, self._ctx.programs)

        async def resolve(uow: UnitOfWork) -> catalog_pb2.ResolveItemRequestResponse:
            resolved = await item_requests.resolve_request(uow, view, resolution, now())
            return catalog_pb2.ResolveItemRequestResponse(request=item_request_to_proto(resolved))

        return await self._once(
            "ResolveItemRequest",
            request.idempotency_key,
            request,
            catalog_pb2.ResolveItemRequestResponse,
            resolve,
        )
