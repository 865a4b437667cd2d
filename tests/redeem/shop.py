"""A program with members, items and a client for redeem, as the redeem tests use it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
import pytest
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.grpcserver import error_detail_from_metadata
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2
from tamaru.common.v1.common_pb2 import ErrorDetail
from tamaru.redeem.v1 import orders_pb2, redeem_pb2, redeem_pb2_grpc
from tests.support.services import TestProgram, create_program

ADDRESS = orders_pb2.ShippingAddress(
    name="Tamaru Hanako",
    postal_code="100-0001",
    prefecture="13",
    address_line1="Chiyoda 1-1",
)
ISLAND_ADDRESS = orders_pb2.ShippingAddress(
    name="Tamaru Taro", postal_code="907-0000", prefecture="47", address_line1="Ishigaki 1"
)


def key() -> str:
    return uuid.uuid4().hex


def lines(*pairs: tuple[str, int]) -> list[items_pb2.ItemLine]:
    return [items_pb2.ItemLine(sku=sku, quantity=qty) for sku, qty in pairs]


async def rpc_error(call: Awaitable[Any]) -> tuple[grpc.StatusCode, ErrorDetail]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    detail = error_detail_from_metadata(caught.value.trailing_metadata())
    assert detail is not None, caught.value.details()
    return caught.value.code(), detail


@dataclass(frozen=True)
class Stubs:
    accounts: accounts_pb2_grpc.AccountsServiceStub
    catalog: catalog_pb2_grpc.CatalogServiceStub
    redeem: redeem_pb2_grpc.RedeemServiceStub

    @classmethod
    def over(
        cls, accounts: grpc.aio.Channel, catalog: grpc.aio.Channel, redeem: grpc.aio.Channel
    ) -> Stubs:
        return cls(
            accounts_pb2_grpc.AccountsServiceStub(accounts),
            catalog_pb2_grpc.CatalogServiceStub(catalog),
            redeem_pb2_grpc.RedeemServiceStub(redeem),
        )


def default_spec() -> dict[str, Any]:
    return {
        "selfPay": {"enabled": True},
        "lotteries": {"enabled": True},
        "catalog": {
            "useSharedCatalog": False,
            "shipping": {"regions": [{"region": "JP-47", "deliverable": False}]},
        },
    }


@dataclass
class Shop:
    stubs: Stubs
    program: TestProgram
    gateway: SandboxGateway

    @classmethod
    async def open(
        cls, stubs: Stubs, js: JetStreamContext, gateway: SandboxGateway, **spec: Any
    ) -> Shop:
        merged = {**default_spec(), **spec}
        program = await create_program(js, ["accounts", "catalog", "redeem"], **merged)
        return cls(stubs, program, gateway)

    def md(self, role: Role = Role.ADMIN) -> list[tuple[str, str]]:
        return self.program.metadata(role)

    @property
    def redeem(self) -> redeem_pb2_grpc.RedeemServiceStub:
        return self.stubs.redeem

    async def member(self, points: int = 0, group_ids: Sequence[str] = ()) -> str:
        enrolled = await self.stubs.accounts.EnrolMember(
            accounts_pb2.EnrolMemberRequest(
                idempotency_key=key(), external_ref=key(), group_ids=group_ids
            ),
            metadata=self.md(),
        )
        account_id = str(enrolled.member.account_id)
        if points:
            await self.stubs.accounts.Credit(
                accounts_pb2.CreditRequest(
                    idempotency_key=key(),
                    member=members_pb2.MemberSelector(account_id=account_id),
                    amount=points,
                    source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN),
                ),
                metadata=self.md(),
            )
        return account_id

    async def balance(self, member: str) -> ledger_pb2.Balance:
        reply = await self.stubs.accounts.GetBalance(
            accounts_pb2.GetBalanceRequest(member=members_pb2.MemberSelector(account_id=member)),
            metadata=self.md(),
        )
        balance: ledger_pb2.Balance = reply.balance
        return balance

    async def item(
        self,
        sku: str,
        price: int,
        stock: int = 10,
        item_type: items_pb2.ItemType.ValueType = items_pb2.ITEM_TYPE_PHYSICAL,
        **fields: Any,
    ) -> items_pb2.Item:
        created = await self.stubs.catalog.CreateItem(
            catalog_pb2.CreateItemRequest(
                item=items_pb2.ItemDraft(
                    sku=sku, title=f"Item {sku}", type=item_type, price_points=price, **fields
                ),
                initial_stock=stock,
                idempotency_key=key(),
            ),
            metadata=self.md(),
        )
        item: items_pb2.Item = created.item
        return item

    async def stock(self, sku: str) -> items_pb2.StockLevel:
        reply = await self.stubs.catalog.GetStock(
            catalog_pb2.GetStockRequest(sku=sku), metadata=self.md()
        )
        stock: items_pb2.StockLevel = reply.stock
        return stock

    def order_request(
        self,
        member: str,
        order_lines: list[items_pb2.ItemLine],
        *,
        token: str = "",
        idempotency_key: str | None = None,
        address: orders_pb2.ShippingAddress | None = ADDRESS,
    ) -> redeem_pb2.PlaceOrderRequest:
        request = redeem_pb2.PlaceOrderRequest(
            idempotency_key=idempotency_key if idempotency_key is not None else key(),
            member=members_pb2.MemberSelector(account_id=member),
            lines=order_lines,
            payment_token=token,
        )
        if address is not None:
            request.shipping_address.CopyFrom(address)
        return request

    async def place(
        self,
        member: str,
        order_lines: list[items_pb2.ItemLine],
        *,
        role: Role = Role.BACKEND,
        **options: Any,
    ) -> orders_pb2.Order:
        reply = await self.redeem.PlaceOrder(
            self.order_request(member, order_lines, **options), metadata=self.md(role)
        )
        order: orders_pb2.Order = reply.order
        return order

    async def get(self, order_id: str) -> orders_pb2.Order:
        reply = await self.redeem.GetOrder(
            redeem_pb2.GetOrderRequest(order_id=order_id), metadata=self.md()
        )
        order: orders_pb2.Order = reply.order
        return order

    async def orders_of(self, member: str) -> list[orders_pb2.Order]:
        reply = await self.redeem.ListOrders(
            redeem_pb2.ListOrdersRequest(member=members_pb2.MemberSelector(account_id=member)),
            metadata=self.md(),
        )
        return list(reply.orders)

    def open_payments(self) -> list[str]:
        """References of this program's card payments still authorised (money blocked)."""
        prefix = f"{self.program.program_id}-"
        return [
            p.reference
            for p in self.gateway.payments.values()
            if p.reference.startswith(prefix) and p.status.value == "authorised"
        ]

    def payments(self) -> dict[str, tuple[int, str]]:
        prefix = f"{self.program.program_id}-"
        return {
            p.reference.removeprefix(prefix): (p.amount_yen, p.status.value)
            for p in self.gateway.payments.values()
            if p.reference.startswith(prefix)
        }
