"""The programs the bank test runs: published like `tamaructl apply` does, then members (and,
with redeem, catalog items) created before the nemesis starts.

Two styles alternate, so both funding paths are exercised:
- `employee`: thanks paid from the sender's balance (accounts Transfer); cancelled orders give
  back the very lots they spent;
- `retail`: thanks funded by the sponsor (a sponsor-funded Credit, billed); cancelled orders
  credit new lots.
Sponsor-funded grants (accounts Credit) happen in both, so billing has charges to reconcile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from nats.js import JetStreamContext

from runtime.auth import Role, generate_api_key
from runtime.programs.publisher import publish_program, wait_for_reports
from runtime.programs.spec import parse_spec
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2

ROLES = (Role.ADMIN, Role.GRANTER, Role.BACKEND, Role.READONLY)
HOLD_TTL_SECONDS = 30  # the smallest the spec allows, so a leaked hold would expire in the run


@dataclass
class ChaosProgram:
    program_id: str
    style: str  # "employee" | "retail"
    keys: dict[Role, str]
    members: list[str] = field(default_factory=list)  # account ids
    skus: dict[str, int] = field(default_factory=dict)  # sku -> price in points

    def metadata(self, role: Role = Role.ADMIN) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.keys[role]}"),)

    @property
    def sponsor_thanks(self) -> bool:
        return self.style == "retail"


def program_spec(program_id: str, style: str) -> dict[str, Any]:
    employee = style == "employee"
    spec: dict[str, Any] = {
        "programId": program_id,
        "displayName": f"Bank test {program_id}",
        "pointName": "Points",
        "yenPerPoint": 1,
        "timeZone": "Asia/Tokyo",
        "earn": {"baseRate": {"yenPerUnit": 100, "pointsPerUnit": 2 if employee else 1}},
        "thanks": {
            "enabled": True,
            "funding": "senderBalance" if employee else "sponsor",
            # Large enough that no retry of a sponsor-funded thanks meets a spent allowance.
            "monthlyAllowance": 100_000_000,
            "maxPerGift": 500,
        },
        "redeem": {
            "cancelPolicy": "restoreOriginalLots" if employee else "newLots",
            "holdTtlSeconds": HOLD_TTL_SECONDS,
        },
        "apiKeys": {"roles": [r.value for r in ROLES]},
    }
    return parse_spec(spec).to_document()


async def publish_programs(
    js: JetStreamContext, program_ids: Sequence[str], services: Sequence[str]
) -> list[ChaosProgram]:
    programs = []
    for index, program_id in enumerate(program_ids):
        style = "employee" if index % 2 == 0 else "retail"
        keys = {role: generate_api_key(program_id, role) for role in ROLES}
        record, revision = await publish_program(
            js,
            program_id=program_id,
            spec=program_spec(program_id, style),
            keys={role.value: key for role, key in keys.items()},
            closed=False,
        )
        outcome = await wait_for_reports(
            js,
            program_id=program_id,
            revision=revision,
            generation=record.generation,
            services=services,
            timeout=60,
        )
        if not outcome.ready:
            raise RuntimeError(f"program {program_id} was not applied: {outcome}")
        programs.append(ChaosProgram(program_id, style, keys))
    return programs


async def enrol_members(channel: grpc.aio.Channel, program: ChaosProgram, count: int) -> None:
    stub = accounts_pb2_grpc.AccountsServiceStub(channel)

    async def enrol(index: int) -> str:
        reply = await stub.EnrolMember(
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=f"{program.program_id}-enrol-{index}",
                external_ref=f"m{index:04d}",
                display_name=f"Member {index}",
            ),
            metadata=program.metadata(),
            timeout=30,
        )
        return str(reply.member.account_id)

    program.members = list(await asyncio.gather(*(enrol(i) for i in range(count))))


async def create_items(
    channel: grpc.aio.Channel, program: ChaosProgram, *, items: int, stock: int
) -> None:
    """Experiences (nothing to ship) with little stock, so some orders meet OUT_OF_STOCK."""
    stub = catalog_pb2_grpc.CatalogServiceStub(channel)
    for index in range(items):
        sku = f"exp-{index}"
        price = 40 + 30 * index
        await stub.CreateItem(
            catalog_pb2.CreateItemRequest(
                idempotency_key=f"{program.program_id}-item-{index}",
                item=items_pb2.ItemDraft(
                    sku=sku,
                    title=f"Experience {index}",
                    type=items_pb2.ITEM_TYPE_EXPERIENCE,
                    price_points=price,
                ),
                initial_stock=stock,
            ),
            metadata=program.metadata(),
            timeout=30,
        )
        program.skus[sku] = price
