"""A TCP link the nemesis can cut or slow: a small asyncio relay between one service process and
PostgreSQL or NATS, since this machine gives the test no firewall to partition with.

- `cut()`: a partition. Bytes already read are held, nothing more is forwarded either way, and
  a new connection is accepted (the kernel does that) but never reaches the other side, so the
  service sees silence and timeouts, not resets, exactly as when packets are dropped.
- `heal()`: forwarding resumes on the connections that stayed open, held bytes first. That is
  what TCP does after a short partition: the sender retransmits until the path is back (Linux
  gives up only after about 15 minutes, `tcp_retries2`), so nothing is reset unless one end's
  own timeout gave up on the connection meanwhile.
- `slow(delay)`: every chunk waits `delay` seconds before it is forwarded (a slow link: latency,
  and with it less throughput on a busy connection); `slow(0)` ends it.

An end closing its side (PostgreSQL or NATS restarted, the service killed) closes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

_CHUNK = 64 * 1024


@dataclass
class LinkProxy:
    name: str  # e.g. "accounts->postgres", for reports
    upstream_host: str
    upstream_port: int
    delay: float = 0.0  # seconds each chunk waits while the link is slow
    port: int = 0  # where the service connects; known once started
    _open: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def cut_off(self) -> bool:
        return not self._open.is_set()

    async def start(self, port: int = 0) -> None:
        self._open.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self.delay = 0.0
        self._open.set()

    def slow(self, delay: float) -> None:
        self.delay = delay

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _gate(self) -> None:
        """Wait while the link is cut, then as long as it is slow."""
        await self._open.wait()
        if self.delay > 0:
            await asyncio.sleep(self.delay)
            await self._open.wait()  # cut while this chunk was in flight: held too

    def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._relay(reader, writer), name=f"proxy {self.name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._gate()  # a connection attempt during a partition hangs
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                return  # the server is down: the service sees its connection closed
            try:
                pumps = [
                    asyncio.create_task(self._pump(reader, up_writer)),
                    asyncio.create_task(self._pump(up_reader, writer)),
                ]
                try:
                    # One end closed: close both, as the proxy never half-opens a link.
                    await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for pump in pumps:
                        pump.cancel()
                    await asyncio.gather(*pumps, return_exceptions=True)
            finally:
                await _close(up_writer)
        finally:
            await _close(writer)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(_CHUNK):
                await self._gate()
                writer.write(data)
                await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
