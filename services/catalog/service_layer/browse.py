"""Browse and search, one page at a time."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalog.adapters import items_repository as items_repo
from services.catalog.adapters import search_repository as repo
from services.catalog.adapters.items_repository import CatalogView
from services.catalog.domain.items import Item
from services.catalog.domain.paging import encode_token, page_request, query_hash
from services.catalog.domain.search import SearchQuery


async def search_items(
    session: AsyncSession,
    view: CatalogView,
    query: SearchQuery,
    *,
    page_size: int,
    page_token: str,
    now: datetime,
) -> tuple[list[Item], str]:
    """A page of items and the token of the next page ("" after the last)."""
    # The token is bound to the program and the query, so it cannot page another listing.
    fingerprint = query_hash(view.program_id, asdict(query))
    page = page_request(page_size, page_token, fingerprint)
    rows = await repo.search(session, view, query, after=page.after, limit=page.size + 1, now=now)
    more = len(rows) > page.size
    rows = rows[: page.size]
    items = await items_repo.with_codes(session, [row for row, _ in rows])
    next_token = ""
    if more and rows:
        last, rank = rows[-1]
        next_token = encode_token(fingerprint, repo.sort_key(query, last, rank))
    return items, next_token
