"""One service as a real OS process (`python -m services.<name>`), which the nemesis may SIGKILL.

A watchdog keeps the process running while it is wanted: a service that exits on its own (it
may fail to start while PostgreSQL or NATS is down) is started again, and the exit is counted,
so the report can say how often that happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_RESPAWN_DELAY = 0.5


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_file: Path
    cwd: Path
    unexpected_exits: list[int] = field(default_factory=list)  # exit codes we did not cause
    _process: asyncio.subprocess.Process | None = None
    _wanted: bool = False
    _watchdog: asyncio.Task[None] | None = None
    _ours: set[int] = field(default_factory=set)  # pids we killed or stopped
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._wanted = True
        await self._ensure_running()
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name=f"watch-{self.name}")

    async def _ensure_running(self) -> None:
        async with self._lock:  # the watchdog and start() never both spawn
            if self._wanted and not self.running:
                await self._spawn()

    async def _spawn(self) -> None:
        with self.log_file.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "chaos.launch",  # `python -m services.<name>` that dies with the driver
                f"services.{self.name}",
                env=self.env,
                cwd=str(self.cwd),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C at the terminal reaches only the driver
            )

    async def _watch(self) -> None:
        while True:
            process = self._process
            if process is not None and process.returncode is None:
                code = await process.wait()
                if process.pid not in self._ours:
                    self.unexpected_exits.append(code)
                    await asyncio.sleep(_RESPAWN_DELAY)
            else:
                await asyncio.sleep(0.1)
            await self._ensure_running()

    async def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight transactions die with their connections."""
        async with self._lock:
            self._wanted = False
            process = self._process
        if process is not None and process.returncode is None:
            self._ours.add(process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (graceful: the outbox is flushed), SIGKILL after `grace`; no restart."""
        self._wanted = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        process = self._process
        if process is None or process.returncode is not None:
            return
        self._ours.add(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def wait_serving(self, timeout: float) -> bool:
        """Poll the gRPC health service until it says SERVING."""
        request = health_pb2.HealthCheckRequest(service="")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while loop.time() < deadline:
                try:
                    reply = await stub.Check(request, timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return True
                except grpc.aio.AioRpcError:
                    pass  # not listening yet
                await asyncio.sleep(0.2)
        return False
