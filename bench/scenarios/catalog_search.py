"""Catalog search (issue 5, "Speed"): `SearchItems` p50/p99 over a program's 100,000 items,
beside the raw PostgreSQL baseline running the same query on the same table.

Items are COPYed into `catalog.items` (100,000 CreateItem calls would take longer than the
whole benchmark), with the same normalized `search_text` the service writes. Titles are three
words from a mixed Japanese/English vocabulary, so one query word matches about 7% of the
items: the trigram index finds them, and the relevance sort orders thousands for one page.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import grpc
import psycopg

from bench.baseline import close_all, connect_many
from bench.results import Figure, p99_at_most
from bench.scenario import BenchContext, Scenario
from bench.sizes import count_label
from bench.stack import BenchProgram
from services.catalog.domain.text_search import like_pattern, normalize, search_document
from tamaru.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from tamaru.common.v1 import common_pb2

SERVICES = ("catalog",)
WORDS = (
    "ワイヤレス", "イヤホン", "コーヒー", "ドリップ", "タオル", "今治", "和牛", "ギフト",
    "カタログ", "旅行", "温泉", "ペア", "チケット", "ランチ", "ディナー", "スピーカー",
    "ケトル", "抹茶", "緑茶", "お米", "新潟", "北海道", "Bluetooth", "Premium", "Organic",
    "Camera", "Backpack", "Thermos", "Bamboo", "Ceramic", "Linen", "Cotton", "Leather",
    "Desk", "Lamp", "Mug", "Kyoto", "Okinawa", "Sapporo", "Wagyu",
)  # fmt: skip
CATEGORIES = ("goods", "food", "travel", "experience", "donation")
PAGE_SIZE = 20
CHANNELS = 4
SEARCH_P99_MS = 100.0  # what a member's search box tolerates; the issue asks for the p99 only

_RAW_SEARCH = (
    "SELECT item_id, sku, title, description, category, item_type, price_points, on_hand, "
    "reserved FROM catalog.items "
    "WHERE program_id = %(program)s AND status = 'active' "
    "AND (available_from IS NULL OR available_from <= %(now)s) "
    "AND (available_until IS NULL OR available_until > %(now)s) "
    "AND search_text LIKE %(pattern)s ESCAPE '\\' "
    "ORDER BY CASE WHEN split_part(search_text, E'\\n', 1) LIKE %(pattern)s ESCAPE '\\' "
    "THEN 0 ELSE 1 END, title, item_id LIMIT %(limit)s"
)


def _title(rng: random.Random, n: int) -> str:
    return f"{' '.join(rng.sample(WORDS, 3))} {n:06d}"


async def load_items(ctx: BenchContext, program_id: str, count: int) -> None:
    rng = random.Random(5)
    columns = (
        "item_id, program_id, sku, title, description, category, item_type, price_points, "
        "status, on_hand, search_text"
    )
    async with await psycopg.AsyncConnection.connect(ctx.stack.dsn, autocommit=True) as conn:
        with ctx.console.bar("catalog items (COPY)", count) as bar:
            statement = f"COPY catalog.items ({columns}) FROM STDIN"
            async with conn.cursor() as cur, cur.copy(statement) as copy:
                for n in range(count):
                    title = _title(rng, n)
                    category = CATEGORIES[n % len(CATEGORIES)]
                    description = f"{title} - bench item"
                    sku = f"SKU-{n:07d}"
                    await copy.write_row(
                        (uuid.uuid4().hex, program_id, sku, title, description, category,
                         "physical", rng.randrange(100, 50_000), "active", 100,
                         search_document(title, sku, description, category))
                    )  # fmt: skip
                    if n % 5_000 == 4_999:
                        bar.advance(5_000)
                bar.advance(count % 5_000)
        await conn.execute("ANALYZE catalog.items")


def _query(rng: random.Random) -> str:
    return rng.choice(WORDS)


class SearchClient:
    def __init__(self, target: str, program: BenchProgram) -> None:
        self._channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
        self._stubs = [catalog_pb2_grpc.CatalogServiceStub(c) for c in self._channels]
        self._metadata = program.metadata()
        self._rng = random.Random(7)

    async def search(self, client: int) -> int:
        stub = self._stubs[client % len(self._stubs)]
        reply = await stub.SearchItems(
            catalog_pb2.SearchItemsRequest(
                query=_query(self._rng), page=common_pb2.PageRequest(page_size=PAGE_SIZE)
            ),
            metadata=self._metadata,
            timeout=30,
        )
        if len(reply.items) != PAGE_SIZE:
            raise RuntimeError(f"a page of {len(reply.items)} items, {PAGE_SIZE} expected")
        return 1

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


async def run(ctx: BenchContext) -> list[Figure]:
    s, service = ctx.sizes, ctx.stack.service("catalog")
    program = await ctx.stack.create_program(
        SERVICES, prefix="search", catalog={"useSharedCatalog": False}
    )
    await load_items(ctx, program.program_id, s.catalog_items)
    clients = s.search_clients
    rng = random.Random(7)
    conns = await connect_many(ctx.stack.dsn, clients)

    async def raw_search(client: int) -> int:
        term = normalize(_query(rng))
        cursor = await conns[client].execute(
            _RAW_SEARCH,
            {
                "program": program.program_id,
                "now": datetime.now(UTC),
                "pattern": like_pattern(term),
                "limit": PAGE_SIZE + 1,
            },
        )
        rows = await cursor.fetchall()
        await conns[client].rollback()
        if len(rows) < PAGE_SIZE:
            raise RuntimeError(f"{len(rows)} rows for {term!r}")
        return 1

    try:
        baseline = await ctx.measure(
            "search: raw PostgreSQL", raw_search, clients=clients, pid=service.pid
        )
    finally:
        await close_all(conns)
    client = SearchClient(service.target, program)
    try:
        measured = await ctx.measure(
            "search: gRPC", client.search, clients=clients, pid=service.pid, profile_as="search"
        )
    finally:
        await client.close()
    label = count_label(s.catalog_items)
    return [
        Figure(
            scenario="catalog",
            operation="search",
            title=f"SearchItems over {label} items ({clients} client{'s' * (clients > 1)})",
            unit="searches/s",
            service=measured,
            baseline=baseline,
            checks=[p99_at_most(SEARCH_P99_MS, measured.p99_ms)],
            notes=[
                "one query word per search (about 7% of items match), first page of "
                f"{PAGE_SIZE} by relevance"
            ],
        )
    ]


SCENARIO = Scenario("catalog", SERVICES, run)
