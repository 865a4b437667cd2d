"""The embedded servers work when nothing listens on 5432/4222, and keep their data."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from runtime.devstack import (
    ensure_database,
    find_or_start_nats,
    find_or_start_postgres,
    has_jetstream,
    postgres_reachable,
    stop_nats,
    stop_postgres,
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tamaru-devstack-"))
    path.chmod(0o755)  # as root, PostgreSQL runs as an unprivileged user that must enter it
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _execute(url: str, sql: str) -> object:
    """Run one statement in its own transaction; the first column of its first row, if any."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def test_embedded_postgres_keeps_data_across_restart(data_dir: Path) -> None:
    pg_dir = data_dir / "postgres"
    try:
        first = await find_or_start_postgres(pg_dir, use_existing=False)
        assert first.origin == "started"
        assert ":5432/" not in first.url
        url = await ensure_database(first.url, "tamaru")
        await _execute(url, "CREATE TABLE kept (points bigint)")
        await _execute(url, "INSERT INTO kept VALUES (9007199254740993)")

        again = await find_or_start_postgres(pg_dir, use_existing=False)
        assert again.origin == "reused"
        assert again.url == first.url

        assert await stop_postgres(pg_dir) is True
        assert not await postgres_reachable(first.url)

        restarted = await find_or_start_postgres(pg_dir, use_existing=False)
        assert restarted.origin == "started"
        url = await ensure_database(restarted.url, "tamaru")
        assert await _execute(url, "SELECT points FROM kept") == 9007199254740993
    finally:
        await stop_postgres(pg_dir)
    assert await stop_postgres(pg_dir) is False


async def test_embedded_nats_keeps_streams_across_restart(data_dir: Path) -> None:
    nats_dir = data_dir / "nats"
    try:
        first = await find_or_start_nats(nats_dir, use_existing=False)
        assert first.origin == "started"
        assert not first.url.endswith(":4222")
        nc = await nats.connect(first.url)
        await nc.jetstream().add_stream(name="EMBEDDED", subjects=["embedded.>"])
        await nc.jetstream().publish("embedded.kept", b"1")
        await nc.close()

        again = await find_or_start_nats(nats_dir, use_existing=False)
        assert (again.origin, again.url) == ("reused", first.url)

        assert await stop_nats(nats_dir) is True
        assert not await has_jetstream(first.url, timeout=0.5)

        restarted = await find_or_start_nats(nats_dir, use_existing=False)
        assert restarted.origin == "started"
        nc = await nats.connect(restarted.url)
        info = await nc.jetstream().stream_info("EMBEDDED")
        await nc.close()
        assert info.state.messages == 1
    finally:
        await stop_nats(nats_dir)
    assert await stop_nats(nats_dir) is False


async def test_configured_urls_win_when_reachable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, postgres_server_url: str, nats_url: str
) -> None:
    monkeypatch.setenv("TAMARU_DATABASE_URL", postgres_server_url)
    monkeypatch.setenv("TAMARU_NATS_URL", nats_url)
    pg = await find_or_start_postgres(data_dir / "postgres")
    broker = await find_or_start_nats(data_dir / "nats")
    assert (pg.origin, pg.url) == ("configured", postgres_server_url)
    assert (broker.origin, broker.url) == ("configured", nats_url)
    assert not (data_dir / "postgres").exists()  # nothing embedded was started


async def test_an_unreachable_configured_nats_is_passed_over(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAMARU_NATS_URL", "nats://127.0.0.1:1")
    try:
        broker = await find_or_start_nats(data_dir / "nats")
    finally:
        await stop_nats(data_dir / "nats")
    assert broker.origin in ("reachable", "started")
    assert broker.url != "nats://127.0.0.1:1"
