"""Small builders and assertions the catalog tests share."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.grpcserver import error_detail_from_metadata
from runtime.messaging.commands import CommandClient
from runtime.messaging.streams import EVENTS_STREAM
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, commands_pb2, items_pb2
from tamaru.common.v1 import common_pb2
from tamaru.common.v1.common_pb2 import ErrorDetail
from tests.support.services import TestProgram as Program


def key() -> str:
    return uuid.uuid4().hex


def draft(sku: str, **fields: Any) -> items_pb2.ItemDraft:
    values: dict[str, Any] = {
        "sku": sku,
        "title": f"Item {sku}",
        "type": items_pb2.ITEM_TYPE_PHYSICAL,
        "price_points": 1000,
    }
    values.update(fields)
    return items_pb2.ItemDraft(**values)


async def create_item(
    stub: catalog_pb2_grpc.CatalogServiceStub,
    program: Program,
    sku: str,
    *,
    stock: int = 10,
    unlimited: bool = False,
    role: Role = Role.ADMIN,
    **fields: Any,
) -> items_pb2.Item:
    response: catalog_pb2.CreateItemResponse = await stub.CreateItem(
        catalog_pb2.CreateItemRequest(
            item=draft(sku, **fields),
            initial_stock=stock,
            unlimited_stock=unlimited,
            idempotency_key=key(),
        ),
        metadata=program.metadata(role),
    )
    return response.item


async def reserve(
    commands: CommandClient,
    program: Program,
    lines: list[tuple[str, int]],
    *,
    member_id: str = "m1",
    order_id: str | None = None,
    ttl_seconds: int = 0,
    idempotency_key: str | None = None,
) -> commands_pb2.Reservation:
    request = commands_pb2.ReserveStockRequest(
        order_id=order_id or f"order-{key()}",
        member_id=member_id,
        lines=[items_pb2.ItemLine(sku=sku, quantity=qty) for sku, qty in lines],
        ttl_seconds=ttl_seconds,
        idempotency_key=idempotency_key or key(),
    )
    response = await commands.call(
        "catalog",
        "ReserveStock",
        request,
        commands_pb2.ReserveStockResponse,
        program_id=program.program_id,
    )
    return response.reservation


async def stock_of(
    stub: catalog_pb2_grpc.CatalogServiceStub, program: Program, sku: str
) -> items_pb2.StockLevel:
    response: catalog_pb2.GetStockResponse = await stub.GetStock(
        catalog_pb2.GetStockRequest(sku=sku), metadata=program.metadata(Role.ADMIN)
    )
    return response.stock


def rpc_error(
    caught: pytest.ExceptionInfo[grpc.aio.AioRpcError],
) -> tuple[grpc.StatusCode, ErrorDetail]:
    error = caught.value
    detail = error_detail_from_metadata(error.trailing_metadata())
    assert detail is not None, error.details()
    return error.code(), detail


async def import_csv(
    stub: catalog_pb2_grpc.CatalogServiceStub,
    program: Program,
    role: Role,
    text: str,
    *,
    idempotency_key: str = "",
) -> catalog_pb2.ImportItemsResponse:
    data = text.encode()
    idempotency_key = idempotency_key or key()

    async def chunks() -> AsyncIterator[catalog_pb2.ImportItemsRequest]:
        for start in range(0, max(len(data), 1), 64):  # an empty file is one empty chunk
            yield catalog_pb2.ImportItemsRequest(
                idempotency_key=idempotency_key, csv_chunk=data[start : start + 64]
            )

    response: catalog_pb2.ImportItemsResponse = await stub.ImportItems(
        chunks(), metadata=program.metadata(role)
    )
    return response


async def events_of(
    js: JetStreamContext, program_id: str, count: int
) -> list[common_pb2.EventEnvelope]:
    sub = await js.pull_subscribe(f"tamaru.evt.{program_id}.catalog.>", stream=EVENTS_STREAM)
    found: list[common_pb2.EventEnvelope] = []
    try:
        for _ in range(50):
            try:
                msgs = await sub.fetch(100, timeout=0.2)
            except NatsTimeout:
                msgs = []
            found += [common_pb2.EventEnvelope.FromString(m.data) for m in msgs]
            if len(found) >= count:
                break
            await asyncio.sleep(0.05)
    finally:
        await sub.unsubscribe()
    return found
