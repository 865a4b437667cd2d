"""The nemesis's network and clock faults are real: a cut link stops bytes both ways and hangs
new connections, healing delivers what was held and resumes the same connections, a slow link
delays, and a skewed process really reads another time. Real sockets, a real child process.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from chaos.clock import skewed_clock_env
from chaos.proxy import LinkProxy

SILENCE = 0.3  # seconds a cut link must stay silent for the test to believe it


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[asyncio.Server]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    yield server
    server.close()
    await server.wait_closed()


@pytest.fixture
async def link(upstream: asyncio.Server) -> AsyncIterator[LinkProxy]:
    proxy = LinkProxy("test->echo", "127.0.0.1", upstream.sockets[0].getsockname()[1])
    await proxy.start()
    yield proxy
    await proxy.close()


async def _connect(link: LinkProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", link.port)


async def _round_trip(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes, timeout: float = 5
) -> bytes:
    reader, writer = conn
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), timeout)


async def test_an_open_link_forwards_both_ways(link: LinkProxy) -> None:
    conn = await _connect(link)
    assert await _round_trip(conn, b"ping") == b"ping"
    conn[1].close()


async def test_a_cut_link_holds_bytes_and_healing_resumes_the_same_connection(
    link: LinkProxy,
) -> None:
    conn = await _connect(link)
    assert await _round_trip(conn, b"before") == b"before"
    link.cut()
    with pytest.raises(TimeoutError):  # silence, not a reset: the caller times out
        await _round_trip(conn, b"during", timeout=SILENCE)
    assert not conn[0].at_eof()
    link.heal()
    # What was sent during the partition arrives, in order, on the connection that stayed open.
    assert await asyncio.wait_for(conn[0].readexactly(6), 5) == b"during"
    assert await _round_trip(conn, b"after") == b"after"
    conn[1].close()


async def test_a_new_connection_during_a_cut_hangs_until_healed(link: LinkProxy) -> None:
    link.cut()
    conn = await _connect(link)  # the proxy's kernel accepts; the far side is never reached
    with pytest.raises(TimeoutError):
        await _round_trip(conn, b"hello", timeout=SILENCE)
    link.heal()
    assert await asyncio.wait_for(conn[0].readexactly(5), 5) == b"hello"
    conn[1].close()


async def test_a_slow_link_delays_each_exchange_and_healing_ends_it(link: LinkProxy) -> None:
    conn = await _connect(link)
    link.slow(0.2)
    began = time.monotonic()
    assert await _round_trip(conn, b"slow") == b"slow"
    assert time.monotonic() - began >= 0.4  # 0.2 s each way
    link.heal()
    began = time.monotonic()
    assert await _round_trip(conn, b"fast") == b"fast"
    assert time.monotonic() - began < 0.2
    conn[1].close()


async def test_the_far_end_closing_closes_the_service_side(upstream: asyncio.Server) -> None:
    link = LinkProxy("test->gone", "127.0.0.1", upstream.sockets[0].getsockname()[1])
    await link.start()
    upstream.close()
    await upstream.wait_closed()
    try:
        reader, writer = await _connect(link)  # nothing listens behind the proxy any more
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await link.close()


@pytest.mark.parametrize("offset", [-300, 240])
def test_a_skewed_process_reads_its_wall_clock_off_but_not_its_monotonic_clock(
    offset: int,
) -> None:
    script = "import time; print(time.time(), time.monotonic())"
    before_wall, before_mono = time.time(), time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=skewed_clock_env(offset),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    after_wall, after_mono = time.time(), time.monotonic()
    child_wall, child_mono = float(out[0]), float(out[1])
    assert before_wall + offset - 1 <= child_wall <= after_wall + offset + 1, (
        datetime.fromtimestamp(child_wall, UTC)
    )
    assert before_mono <= child_mono <= after_mono  # asyncio's timers are not skewed
