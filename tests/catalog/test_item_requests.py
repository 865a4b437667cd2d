"""Member item requests: members ask, admins add or decline, once."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from runtime.auth import Role
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, requests_pb2
from tamaru.common.v1 import common_pb2
from tests.catalog.helpers import create_item, key, rpc_error
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def ask(stub: Stub, program: Program, member: str, **fields: str) -> requests_pb2.ItemRequest:
    response: catalog_pb2.RequestItemResponse = await stub.RequestItem(
        catalog_pb2.RequestItemRequest(member_id=member, idempotency_key=key(), **fields),
        metadata=program.metadata(Role.BACKEND),
    )
    return response.request


async def test_request_list_resolve(stub: Stub, program: Program) -> None:
    await create_item(stub, program, "SOLD", stock=0, title="限定マグカップ")
    wanted = await ask(stub, program, "m1", sku="SOLD", note="再入荷希望")
    assert (wanted.title, wanted.status) == (
        "限定マグカップ",
        requests_pb2.ITEM_REQUEST_STATUS_OPEN,
    )
    novel = await ask(stub, program, "m2", title="電動歯ブラシ")
    for index in range(3):
        await ask(stub, program, "m2", title=f"その他 {index}")

    mine: catalog_pb2.ListItemRequestsResponse = await stub.ListItemRequests(
        catalog_pb2.ListItemRequestsRequest(
            member_id="m2", page=common_pb2.PageRequest(page_size=2)
        ),
        metadata=program.metadata(Role.BACKEND),
    )
    assert len(mine.requests) == 2
    rest: catalog_pb2.ListItemRequestsResponse = await stub.ListItemRequests(
        catalog_pb2.ListItemRequestsRequest(
            member_id="m2",
            page=common_pb2.PageRequest(page_size=2, page_token=mine.page.next_page_token),
        ),
        metadata=program.metadata(Role.BACKEND),
    )
    ids = [r.request_id for r in [*mine.requests, *rest.requests]]
    assert len(ids) == len(set(ids)) == 4
    assert novel.request_id in ids

    await create_item(stub, program, "BRUSH", title="電動歯ブラシ")
    resolved: catalog_pb2.ResolveItemRequestResponse = await stub.ResolveItemRequest(
        catalog_pb2.ResolveItemRequestRequest(
            request_id=novel.request_id,
            status=requests_pb2.ITEM_REQUEST_STATUS_ADDED,
            resolved_sku="BRUSH",
            idempotency_key=key(),
        ),
        metadata=program.metadata(),
    )
    assert resolved.request.status == requests_pb2.ITEM_REQUEST_STATUS_ADDED
    assert resolved.request.HasField("resolve_time")
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.ResolveItemRequest(
            catalog_pb2.ResolveItemRequestRequest(
                request_id=novel.request_id,
                status=requests_pb2.ITEM_REQUEST_STATUS_DECLINED,
                idempotency_key=key(),
            ),
            metadata=program.metadata(),
        )
    assert rpc_error(twice)[1].reason == "REQUEST_RESOLVED"
    open_only: catalog_pb2.ListItemRequestsResponse = await stub.ListItemRequests(
        catalog_pb2.ListItemRequestsRequest(status=requests_pb2.ITEM_REQUEST_STATUS_OPEN),
        metadata=program.metadata(),
    )
    assert novel.request_id not in [r.request_id for r in open_only.requests]
    assert len(open_only.requests) == 4


async def test_bad_requests_name_the_field_and_backends_cannot_resolve(
    stub: Stub, program: Program
) -> None:
    for fields, field in [({"title": ""}, "title"), ({"sku": "NOPE"}, "sku")]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ask(stub, program, "m1", **fields)
        assert rpc_error(caught)[1].field == field
    with pytest.raises(grpc.aio.AioRpcError) as no_member:
        await ask(stub, program, "", title="x")
    assert rpc_error(no_member)[1].field == "member_id"
    request = await ask(stub, program, "m1", title="何か")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await stub.ResolveItemRequest(
            catalog_pb2.ResolveItemRequestRequest(
                request_id=request.request_id,
                status=requests_pb2.ITEM_REQUEST_STATUS_DECLINED,
                idempotency_key=key(),
            ),
            metadata=program.metadata(Role.BACKEND),
        )
    assert rpc_error(denied)[0] == grpc.StatusCode.PERMISSION_DENIED
