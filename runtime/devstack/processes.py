"""Start and stop server processes (ours, or left running by an earlier run)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Servers this process spawned, so stopping them by pid also reaps them (no zombie that would
# look alive to `pid_alive`).
_children: dict[int, subprocess.Popen[bytes]] = {}


def die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when its parent dies, so a test run
    killed by a timeout leaves no server behind. Elsewhere this is a no-op."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def spawn(argv: list[str], *, log_file: Path, detach: bool) -> subprocess.Popen[bytes]:
    """Start a server process with its output appended to `log_file`.

    `detach` puts it in its own session, so the Ctrl-C meant for the supervisor does not kill
    the broker or database before the services have shut down cleanly.
    """
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
            preexec_fn=None if detach else die_with_parent,
        )
    _children[process.pid] = process
    return process


def pid_alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (e.g. the postgres user when we are root)
    return True


async def terminate_pid(pid: int, *, grace: float = 10.0) -> None:
    """SIGTERM a process we do not parent (started by an earlier run), SIGKILL after `grace`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        await asyncio.sleep(0.05)
    child = _children.pop(pid, None)
    if child is not None:
        await asyncio.to_thread(child.wait)
