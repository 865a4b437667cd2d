"""Programs for the hostile tests, filled with data through the services' own RPCs.

Seeding gives generated requests real ids to aim at (members, cards, SKUs, orders, ...) and gives
the tenant matrix something to leak: every name, email, title and message written here carries
the program's tag, so finding one of them in another program's response is a leak.

Seeding of a service still being built is best effort: a step that fails is written down in
`SeededProgram.notes` (reported by the tests) instead of stopping every hostile test.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from runtime.auth import Role, generate_api_key
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.catalog.v1 import catalog_pb2, items_pb2
from tamaru.earn.v1 import earn_pb2, purchases_pb2
from tamaru.redeem.v1 import lotteries_pb2, orders_pb2, redeem_pb2
from tests.hostile.stack import HostileStack
from tests.support.services import ALL_ROLES, TestProgram, create_program

# Enables what the services can do, so requests are not refused just for a disabled feature.
PROGRAM_SPEC: dict[str, Any] = {
    "pointKinds": [
        {"id": "limited", "name": "Limited", "expiry": {"mode": "daysAfterEarn", "days": 60}}
    ],
    "tiers": {
        "basis": "rolling12Months",
        "manualTier": "floor",
        "levels": [
            {"id": "regular", "name": "Regular", "minPoints": 0, "earnMultiplierPercent": 100},
            {"id": "gold", "name": "Gold", "minPoints": 10000, "earnMultiplierPercent": 150},
        ],
    },
    "grantCriteria": [{"id": "kaizen_idea", "name": "Idea adopted", "points": 1000}],
    "allowFreeAmountGrants": True,
    "earn": {
        "baseRate": {"yenPerUnit": 100, "pointsPerUnit": 1},
        "rounding": "floor",
        "behaviourRules": [
            {
                "id": "store_visit",
                "name": "Store visit",
                "behaviour": "storeVisit",
                "points": 5,
                "frequency": {"count": 1, "per": "day"},
            }
        ],
    },
    "thanks": {"enabled": True, "funding": "sponsor", "monthlyAllowance": 1000, "maxPerGift": 300},
    "selfPay": {"enabled": True, "minPoints": 1000, "maxYen": 50000},
    "lotteries": {"enabled": True},
    # The shared catalog holds other tests' items; these programs see only their own.
    "catalog": {
        "useSharedCatalog": False,
        "shipping": {
            "defaultFeePoints": 0,
            "regions": [{"region": "JP-47", "feePoints": 1000, "deliverable": True}],
        },
    },
}

# Values that are valid in any program: the spec's own ids and well-formed dates and codes.
COMMON_VALUES = (
    "normal", "limited", "regular", "gold", "kaizen_idea", "store_visit", "storeVisit",
    "store", "app", "online", "JP-13", "JP-47", "13", "1000001", "100-0001",
    "2026-01-01", "2026-05", "2026-04", "2025-12", "2026-01-01T00:00:00Z", "Asia/Tokyo",
)  # fmt: skip


@dataclass(eq=False)  # compared and hashed by identity: one per program
class SeededProgram:
    program: TestProgram
    tag: str
    # Real ids and references of this program, for requests to aim at, all and by kind
    # (proto_strategies.kind_of: "account_id", "sku", ...).
    ids: list[str] = field(default_factory=list)
    by_kind: dict[str, list[str]] = field(default_factory=dict)
    # Text only this program's data contains (names, emails, titles, messages, codes).
    private_text: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # failure reports print every fixture
        return f"SeededProgram({self.program.program_id}, tag={self.tag})"

    @property
    def traces(self) -> list[str]:
        """Everything that must never show up in another program's responses."""
        return [*self.ids, *self.private_text]


async def new_program(
    js: JetStreamContext, services: list[str], *, platform_key: bool = False
) -> TestProgram:
    program_id = f"hx{secrets.token_hex(5)}"
    roles = (*ALL_ROLES, Role.PLATFORM) if platform_key else ALL_ROLES
    keys = {role: generate_api_key(program_id, role) for role in roles}
    return await create_program(js, services, program_id=program_id, keys=keys, **PROGRAM_SPEC)


def _key() -> str:
    return str(uuid.uuid4())


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


class _Seeder:
    def __init__(self, stack: HostileStack, seeded: SeededProgram) -> None:
        self.stack = stack
        self.seeded = seeded

    async def call(self, service: str, method: str, request: Message) -> Any:
        """The single response, or None when the service is absent or refused (noted)."""
        outcome = await self.stack.call_named(service, method, request, self.seeded.program)
        if outcome is None:
            return None
        if not outcome.ok:
            self.seeded.notes.append(f"seeding {service}.{method}: {outcome.describe()}")
            return None
        return outcome.responses[0]

    def add_ids(self, kind: str, *values: str) -> None:
        for value in values:
            if value:
                self.seeded.ids.append(value)
                self.seeded.by_kind.setdefault(kind, []).append(value)

    def add_private(self, *values: str) -> None:
        self.seeded.private_text.extend(v for v in values if v)


async def seed_program(stack: HostileStack, program: TestProgram) -> SeededProgram:
    tag = f"zq{secrets.token_hex(4)}"
    seeded = SeededProgram(program=program, tag=tag)
    seeder = _Seeder(stack, seeded)
    await _seed_accounts(seeder, tag)
    skus = await _seed_catalog(seeder, tag)
    await _seed_earn(seeder, tag)
    await _seed_redeem(seeder, tag, skus)
    return seeded


def _member(account_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=account_id)


async def _seed_accounts(s: _Seeder, tag: str) -> None:
    group = await s.call(
        "accounts",
        "CreateGroup",
        accounts_pb2.CreateGroupRequest(
            idempotency_key=_key(), name=f"{tag} Secret Group", description=f"{tag} group text"
        ),
    )
    group_id = group.group.group_id if group else ""
    s.add_ids("group_id", group_id)
    s.add_private(f"{tag} Secret Group", f"{tag} group text")
    for i in range(3):
        ref, card, email = (
            f"{tag}-ref{i}x",
            f"{tag.upper()}CARD{i}X",
            f"{tag}.member{i}@example.org",
        )
        name, attribute = f"{tag} Secret Name {i}", f"{tag} attribute {i}"
        enrolled = await s.call(
            "accounts",
            "EnrolMember",
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=_key(),
                external_ref=ref,
                display_name=name,
                email=email,
                phone=f"+81-90-{secrets.randbelow(10**8):08d}",
                attributes={"note": attribute},
                identifiers=[
                    members_pb2.IdentifierKey(
                        type=members_pb2.IDENTIFIER_TYPE_CARD_NUMBER, value=card
                    )
                ],
                group_ids=[group_id] if group_id and i == 0 else [],
            ),
        )
        if enrolled is None:
            continue
        account_id = enrolled.member.account_id
        s.seeded.account_ids.append(account_id)
        s.seeded.emails.append(email)
        s.add_ids("account_id", account_id)
        s.add_ids("external_ref", ref)
        s.add_ids("value", card)
        s.add_private(name, email, attribute)
    for position, account_id in enumerate(s.seeded.account_ids[:2]):
        for kind, amount in (("", 5000 - 2000 * position), ("limited", 300)):
            credited = await s.call(
                "accounts",
                "Credit",
                accounts_pb2.CreditRequest(
                    idempotency_key=_key(),
                    member=_member(account_id),
                    amount=amount,
                    kind=kind,
                    source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
                    reason=f"{tag} seed credit",
                    sponsor_funded=True,
                ),
            )
            if credited is not None:
                s.add_ids("transaction_id", credited.result.transaction_id)
                s.add_ids("lot_id", credited.result.lot_id)
    if s.seeded.account_ids:
        first = s.seeded.account_ids[0]
        debited = await s.call(
            "accounts",
            "Debit",
            accounts_pb2.DebitRequest(
                idempotency_key=_key(),
                member=_member(first),
                amount=100,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id=f"{tag}-order0"),
                reason=f"{tag} seed debit",
            ),
        )
        if debited is not None:
            s.add_ids("transaction_id", debited.result.transaction_id)
        token = await s.call(
            "accounts",
            "IssueCardToken",
            accounts_pb2.IssueCardTokenRequest(idempotency_key=_key(), member=_member(first)),
        )
        if token is not None:
            s.add_ids("token", token.token)
    news = await s.call(
        "accounts",
        "PostNews",
        accounts_pb2.PostNewsRequest(
            idempotency_key=_key(), title=f"{tag} Secret News", body=f"{tag} news body"
        ),
    )
    if news is not None:
        s.add_ids("news_id", news.news.news_id)
    s.add_private(f"{tag} Secret News", f"{tag} news body")


async def _seed_catalog(s: _Seeder, tag: str) -> dict[str, str]:
    """Returns the SKUs created by item type ("physical", "egift", "prize")."""
    skus: dict[str, str] = {}
    kinds = (
        ("physical", items_pb2.ITEM_TYPE_PHYSICAL, 100),
        ("egift", items_pb2.ITEM_TYPE_EGIFT, 200),
        ("prize", items_pb2.ITEM_TYPE_LOTTERY_PRIZE, 1),
    )
    for label, item_type, price in kinds:
        sku = f"{tag.upper()}-{label.upper()}"
        title = f"{tag} Secret {label} item"
        created = await s.call(
            "catalog",
            "CreateItem",
            catalog_pb2.CreateItemRequest(
                item=items_pb2.ItemDraft(
                    sku=sku,
                    title=title,
                    description=f"{tag} {label} description",
                    category=f"{tag}-category",
                    type=item_type,
                    price_points=price,
                    status=items_pb2.ITEM_STATUS_ACTIVE,
                ),
                initial_stock=0 if item_type == items_pb2.ITEM_TYPE_EGIFT else 50,
                idempotency_key=_key(),
            ),
        )
        if created is not None:
            skus[label] = sku
            s.add_ids("sku", sku)
            s.add_private(title, f"{tag} {label} description", f"{tag}-category")
    if "egift" in skus:
        codes = [f"{tag.upper()}CODE{i}X" for i in range(3)]
        await s.call(
            "catalog",
            "UploadCodes",
            catalog_pb2.UploadCodesRequest(sku=skus["egift"], codes=codes, idempotency_key=_key()),
        )
        s.add_private(*codes)
    if s.seeded.account_ids:
        requested = await s.call(
            "catalog",
            "RequestItem",
            catalog_pb2.RequestItemRequest(
                member_id=s.seeded.account_ids[0],
                title=f"{tag} Secret Wish",
                note=f"{tag} wish note",
                idempotency_key=_key(),
            ),
        )
        if requested is not None:
            s.add_ids("request_id", requested.request.request_id)
        s.add_private(f"{tag} Secret Wish", f"{tag} wish note")
    return skus


async def _seed_earn(s: _Seeder, tag: str) -> None:
    members = s.seeded.account_ids
    if len(members) < 2:
        return
    grant = await s.call(
        "earn",
        "GrantPoints",
        earn_pb2.GrantPointsRequest(
            idempotency_key=_key(), criterion_id="kaizen_idea", members=[_member(members[0])]
        ),
    )
    if grant is not None:
        s.add_ids("grant_id", grant.grant_id)
    purchase_id = f"{tag}-purchase1"
    purchase = await s.call(
        "earn",
        "RecordPurchase",
        earn_pb2.RecordPurchaseRequest(
            purchase=purchases_pb2.Purchase(
                purchase_id=purchase_id,
                member=_member(members[0]),
                channel="store",
                store=f"{tag}-store",
                amount_yen=5000,
                lines=[purchases_pb2.PurchaseLine(sku="A1", category="food", amount_yen=5000)],
                occurred_at=_timestamp(datetime.now(UTC)),
            )
        ),
    )
    if purchase is not None:
        s.add_ids("purchase_id", purchase_id)
        s.add_ids("store", f"{tag}-store")
    thanks = await s.call(
        "earn",
        "SendThanks",
        earn_pb2.SendThanksRequest(
            idempotency_key=_key(),
            sender=_member(members[0]),
            receivers=[_member(members[1])],
            points=10,
            message=f"{tag} Secret Thanks",
        ),
    )
    if thanks is not None:
        s.add_ids("thanks_id", *(t.thanks_id for t in thanks.thanks))
    s.add_private(f"{tag} Secret Thanks")


async def _seed_redeem(s: _Seeder, tag: str, skus: dict[str, str]) -> None:
    members = s.seeded.account_ids
    if not members:
        return
    recipient = f"{tag} Secret Recipient"
    if "physical" in skus:
        order = await s.call(
            "redeem",
            "PlaceOrder",
            redeem_pb2.PlaceOrderRequest(
                idempotency_key=_key(),
                member=_member(members[0]),
                lines=[items_pb2.ItemLine(sku=skus["physical"], quantity=1)],
                shipping_address=orders_pb2.ShippingAddress(
                    name=recipient,
                    postal_code="1000001",
                    prefecture="JP-13",
                    address_line1=f"{tag} Secret Street 1",
                    phone="03-0000-0000",
                ),
            ),
        )
        if order is not None:
            s.add_ids("order_id", order.order.order_id)
        s.add_private(recipient, f"{tag} Secret Street 1")
    if "prize" in skus:
        now = datetime.now(UTC)
        lottery = await s.call(
            "redeem",
            "CreateLottery",
            redeem_pb2.CreateLotteryRequest(
                idempotency_key=_key(),
                title=f"{tag} Secret Lottery",
                prizes=[lotteries_pb2.LotteryPrize(sku=skus["prize"], count=1)],
                entry_cost_points=10,
                max_entries_per_member=1,
                entries_open_time=_timestamp(now - timedelta(hours=1)),
                entries_close_time=_timestamp(now + timedelta(days=1)),
                draw_time=_timestamp(now + timedelta(days=2)),
            ),
        )
        if lottery is not None:
            s.add_ids("lottery_id", lottery.lottery.lottery_id)
        s.add_private(f"{tag} Secret Lottery")
    sale_id = f"{tag}-sale1"
    used = await s.call(
        "redeem",
        "UsePointsAtPos",
        redeem_pb2.UsePointsAtPosRequest(
            idempotency_key=_key(),
            member=_member(members[0]),
            points=10,
            sale_id=sale_id,
            store_id=f"{tag}-store",
        ),
    )
    if used is not None:
        s.add_ids("sale_id", sale_id)
        s.add_ids("discount_id", used.discount.discount_id)
