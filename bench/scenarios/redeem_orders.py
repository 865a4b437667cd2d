"""Orders end to end (issue 5, "Speed"): `PlaceOrder` from 16 concurrent members, each order
reserving stock (catalog), holding and capturing points (accounts), committing the stock and
confirming, beside a raw PostgreSQL baseline writing the same effects with plain SQL.

The service side is three processes talking over NATS commands, one database transaction per
saga step; the baseline is what a single program would minimally write: the stock decrement,
the order row and its event in one transaction, then the points debit (ledger rows, lot, account,
outbox, idempotency key) in another. The ratio is the price of the saga and the services.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import grpc
import psycopg

from bench.baseline import (
    ENVELOPE,
    Conn,
    RawLedger,
    close_all,
    connect_many,
    copy_population_to_raw,
    create_raw_schema,
)
from bench.loaders import LotSpec, Population, load_population
from bench.results import Figure
from bench.scenario import BenchContext, Scenario
from bench.stack import BenchProgram
from runtime.auth import Role
from tamaru.accounts.v1 import members_pb2
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc, items_pb2
from tamaru.redeem.v1 import orders_pb2, redeem_pb2, redeem_pb2_grpc

SERVICES = ("accounts", "catalog", "redeem")
NEVER_EXPIRES = {"expiry": {"mode": "never"}}
ITEMS = 20
PRICE = 10
STOCK = 10_000_000
MEMBERS = 1_000
CHANNELS = 4
ADDRESS = orders_pb2.ShippingAddress(
    name="Tamaru Hanako", postal_code="100-0001", prefecture="13", address_line1="Chiyoda 1-1"
)


def _sku(n: int) -> str:
    return f"BENCH-{n:03d}"


async def _create_items(target: str, program: BenchProgram) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        for n in range(ITEMS):
            await stub.CreateItem(
                catalog_pb2.CreateItemRequest(
                    item=items_pb2.ItemDraft(
                        sku=_sku(n),
                        title=f"Bench item {n}",
                        type=items_pb2.ITEM_TYPE_PHYSICAL,
                        price_points=PRICE,
                    ),
                    initial_stock=STOCK,
                    idempotency_key=uuid.uuid4().hex,
                ),
                metadata=program.metadata(Role.ADMIN),
                timeout=30,
            )


class OrderClient:
    def __init__(self, target: str, program: BenchProgram, pop: Population) -> None:
        self._channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
        self._stubs = [redeem_pb2_grpc.RedeemServiceStub(c) for c in self._channels]
        self._metadata = program.metadata()
        self._pop = pop

    async def order(self, client: int) -> int:
        request = redeem_pb2.PlaceOrderRequest(
            idempotency_key=uuid.uuid4().hex,
            member=members_pb2.MemberSelector(
                account_id=self._pop.account_id(random.randrange(self._pop.size))
            ),
            lines=[items_pb2.ItemLine(sku=_sku(random.randrange(ITEMS)), quantity=1)],
            shipping_address=ADDRESS,
        )
        stub = self._stubs[client % len(self._stubs)]
        reply = await stub.PlaceOrder(request, metadata=self._metadata, timeout=60)
        if reply.order.status != orders_pb2.ORDER_STATUS_CONFIRMED:
            raise RuntimeError(f"order ended {orders_pb2.OrderStatus.Name(reply.order.status)}")
        return 1

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


async def _raw_tables(dsn: str, program_id: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS raw.items (LIKE catalog.items INCLUDING ALL)"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS raw.orders (order_id text PRIMARY KEY, program_id text, "
            "member_id text, sku text, points bigint, status text, created_at timestamptz)"
        )
        await conn.execute(
            "INSERT INTO raw.items SELECT * FROM catalog.items WHERE program_id = %s", (program_id,)
        )


class RawOrders:
    def __init__(self, conns: list[Conn], pop: Population) -> None:
        self.conns = conns
        self.pop = pop
        self.ledger = RawLedger(conns, pop)

    async def order(self, client: int) -> int:
        conn, index = self.conns[client], random.randrange(self.pop.size)
        sku, order_id = _sku(random.randrange(ITEMS)), uuid.uuid4().hex
        async with conn.transaction():
            cursor = await conn.execute(
                "UPDATE raw.items SET on_hand = on_hand - 1 "
                "WHERE program_id = %s AND sku = %s AND on_hand >= 1 RETURNING item_id",
                (self.pop.program_id, sku),
            )
            if await cursor.fetchone() is None:
                raise RuntimeError(f"{sku} is out of stock")
            await conn.execute(
                "INSERT INTO raw.orders VALUES (%s, %s, %s, %s, %s, 'confirmed', %s)",
                (order_id, self.pop.program_id, self.pop.account_id(index), sku, PRICE,
                 datetime.now(UTC)),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO raw.outbox_events (event_id, program_id, subject, envelope, headers, "
                "attempts) VALUES (%s, %s, %s, %s, '{}', 0)",
                (uuid.uuid4().hex, self.pop.program_id, "order_confirmed", ENVELOPE),
            )
        return await self.ledger.debit(client, index, PRICE)


async def run(ctx: BenchContext) -> list[Figure]:
    s = ctx.sizes
    redeem = ctx.stack.service("redeem")
    program = await ctx.stack.create_program(SERVICES, prefix="orders", **NEVER_EXPIRES)
    pool = Population.new(program.program_id, MEMBERS, [LotSpec(10**9, None)])
    await load_population(ctx.stack.dsn, pool, ctx.console)
    await _create_items(ctx.stack.service("catalog").target, program)
    await create_raw_schema(ctx.stack.dsn)
    await copy_population_to_raw(ctx.stack.dsn, pool)
    await _raw_tables(ctx.stack.dsn, program.program_id)

    conns = await connect_many(ctx.stack.dsn, s.order_clients)
    try:
        baseline = await ctx.measure(
            "orders: raw PostgreSQL",
            RawOrders(conns, pool).order,
            clients=s.order_clients,
            pid=redeem.pid,
        )
    finally:
        await close_all(conns)
    client = OrderClient(redeem.target, program, pool)
    try:
        measured = await ctx.measure(
            "orders: gRPC",
            client.order,
            clients=s.order_clients,
            pid=redeem.pid,
            profile_as="order",
        )
    finally:
        await client.close()
    notes = [
        "service CPU is the redeem process's; accounts and catalog work for every order too "
        "and count as 'other services'",
    ]
    for schema in SERVICES:
        waited = await ctx.outbox_settled(schema)
        if waited:
            notes.append(f"the {schema} outbox relay needed {waited}s after the phase")
    return [
        Figure(
            scenario="redeem",
            operation="order",
            title=f"PlaceOrder end to end ({s.order_clients} members at once)",
            unit="orders/s",
            service=measured,
            baseline=baseline,
            notes=notes,
        )
    ]


SCENARIO = Scenario("redeem", SERVICES, run)
