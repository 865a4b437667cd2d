"""Recommendations learn from redeem's RecordRedemption and say why they recommend."""

from __future__ import annotations

import pytest

from runtime.auth import Role
from runtime.errors import InvalidArgument
from runtime.messaging.commands import CommandClient
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, commands_pb2
from tests.catalog.helpers import create_item, key
from tests.support.services import TestProgram as Program

Stub = catalog_pb2_grpc.CatalogServiceStub


async def redeemed(
    commands: CommandClient,
    program: Program,
    member: str,
    sku: str,
    group: str = "",
    tier: str = "",
    idempotency_key: str = "",
) -> commands_pb2.RecordRedemptionResponse:
    return await commands.call(
        "catalog",
        "RecordRedemption",
        commands_pb2.RecordRedemptionRequest(
            member_id=member,
            group_id=group,
            tier_id=tier,
            sku=sku,
            quantity=1,
            idempotency_key=idempotency_key or key(),
        ),
        commands_pb2.RecordRedemptionResponse,
        program_id=program.program_id,
    )


async def recommend(
    stub: Stub, program: Program, member: str, group: str = "", tier: str = ""
) -> list[catalog_pb2.Recommendation]:
    response: catalog_pb2.RecommendItemsResponse = await stub.RecommendItems(
        catalog_pb2.RecommendItemsRequest(member_id=member, group_id=group, tier_id=tier),
        metadata=program.metadata(Role.BACKEND),
    )
    return list(response.recommendations)


async def test_new_items_when_nothing_was_redeemed(stub: Stub, program: Program) -> None:
    await create_item(stub, program, "FIRST")
    await create_item(stub, program, "SOLD-OUT", stock=0)
    recs = await recommend(stub, program, "nobody")
    assert [(r.item.sku, r.reason) for r in recs] == [
        ("FIRST", catalog_pb2.RECOMMENDATION_REASON_NEW)
    ]
    assert recs[0].explanation == "new in the catalog"


async def test_group_tier_history_then_popular(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    for sku in ("TEAM-FAV", "TIER-FAV", "HIT", "PAIR-A", "PAIR-B"):
        await create_item(stub, program, sku)
    # Sales team members love TEAM-FAV; gold members TIER-FAV; everyone HIT.
    for member in ("s1", "s2", "s3"):
        await redeemed(commands, program, member, "TEAM-FAV", group="sales")
    for member in ("g1", "g2"):
        await redeemed(commands, program, member, "TIER-FAV", tier="gold")
    for member in ("x1", "x2", "x3", "x4", "s1"):
        await redeemed(commands, program, member, "HIT")
    # Whoever redeemed PAIR-A also redeemed PAIR-B.
    for member in ("p1", "p2"):
        await redeemed(commands, program, member, "PAIR-A")
        await redeemed(commands, program, member, "PAIR-B")
    await redeemed(commands, program, "me", "PAIR-A", group="sales", tier="gold")

    recs = await recommend(stub, program, "me", group="sales", tier="gold")
    assert [(r.item.sku, r.reason, r.member_count) for r in recs[:4]] == [
        ("PAIR-B", catalog_pb2.RECOMMENDATION_REASON_ALSO_REDEEMED, 2),
        ("TEAM-FAV", catalog_pb2.RECOMMENDATION_REASON_POPULAR_IN_GROUP, 3),
        ("TIER-FAV", catalog_pb2.RECOMMENDATION_REASON_POPULAR_IN_TIER, 2),
        ("HIT", catalog_pb2.RECOMMENDATION_REASON_POPULAR, 5),
    ]
    assert recs[1].explanation == "popular in your group (3 members redeemed it)"
    # What the member already redeemed is not recommended back.
    assert "PAIR-A" not in [r.item.sku for r in recs]
    # Someone outside the group and tier gets the program's popular items.
    outsider = await recommend(stub, program, "newcomer")
    assert outsider[0].item.sku == "HIT"
    assert outsider[0].reason == catalog_pb2.RECOMMENDATION_REASON_POPULAR


async def test_record_redemption_is_idempotent_and_checked(
    stub: Stub, program: Program, commands: CommandClient
) -> None:
    await create_item(stub, program, "ONE")
    await create_item(stub, program, "TWO")
    for _ in range(3):  # a retried call counts once
        await redeemed(commands, program, "a", "ONE", idempotency_key="same")
    await redeemed(commands, program, "b", "TWO")
    await redeemed(commands, program, "c", "TWO")
    recs = await recommend(stub, program, "z")
    assert [(r.item.sku, r.member_count) for r in recs[:2]] == [("TWO", 2), ("ONE", 1)]
    with pytest.raises(InvalidArgument) as caught:
        await redeemed(commands, program, "", "ONE")
    assert caught.value.field == "member_id"
