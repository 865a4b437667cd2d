"""Run child processes with tagged output; restart the ones that die; stop them all cleanly.

Used by `tamaructl dev up`. Children get their own session, so the Ctrl-C typed at `make run`
reaches only the supervisor, which then stops the services in an orderly way instead of
having them all die at once and be "restarted".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from runtime.devstack.processes import die_with_parent

_COLOURS = ("36", "32", "35", "33", "34", "91", "96", "92")
_LINE_LIMIT = 1 << 20  # a service may log a long line (a stack trace with locals, a big payload)


def _use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def tag(name: str, index: int) -> str:
    text = f"[{name}]"
    if not _use_colour():
        return text
    return f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{text}\x1b[0m"


def say(message: str) -> None:
    """Supervisor's own lines, tagged like a child's so the terminal reads as one log."""
    print(f"{tag('dev', 7)} {message}", flush=True)


async def _spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,  # if the supervisor is killed hard, its children go too
        limit=_LINE_LIMIT,
    )


async def _pump(process: asyncio.subprocess.Process, prefix: str) -> None:
    assert process.stdout is not None
    while True:
        try:
            line = await process.stdout.readline()
        except ValueError:  # a line over the limit: show what we have rather than stop reading
            line = await process.stdout.read(_LINE_LIMIT)
        if not line:
            return
        print(f"{prefix} {line.decode(errors='replace').rstrip()}", flush=True)


async def terminate(process: asyncio.subprocess.Process, grace: float) -> int:
    """SIGTERM, wait `grace` seconds, then SIGKILL; the exit code."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


async def run_step(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    index: int = 6,
    cwd: str | None = None,
    timeout: float | None = None,
) -> int:
    """Run a one-shot command (a migration, `apply`, the demo) with tagged output; its exit
    code, or 124 (like timeout(1)) if it overran `timeout` and was stopped."""
    process = await _spawn(argv, env, cwd)
    pump = asyncio.create_task(_pump(process, tag(name, index)))
    try:
        await asyncio.wait_for(process.wait(), timeout=timeout)
    except TimeoutError:
        await terminate(process, 5.0)
        await pump
        return 124
    except asyncio.CancelledError:  # the supervisor is shutting down mid-step
        await asyncio.shield(terminate(process, 5.0))
        raise
    await pump
    assert process.returncode is not None
    return process.returncode


@dataclass
class RestartPolicy:
    max_restarts: int = 5
    first_backoff: float = 1.0
    max_backoff: float = 15.0
    # A child that ran this long before dying counts as healthy again: its budget refills.
    stable_after: float = 60.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1)))


@dataclass
class Child:
    """One supervised long-running process (a service)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    index: int = 0
    cwd: str | None = None
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    restarts: int = 0
    gave_up: bool = False
    process: asyncio.subprocess.Process | None = None
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None
    _started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running(), name=f"supervise-{self.name}")
        await self._started.wait()

    async def _keep_running(self) -> None:
        prefix = tag(self.name, self.index)
        while True:
            began = time.monotonic()
            try:
                self.process = await _spawn(self.argv, self.env, self.cwd)
            except OSError as exc:  # not even started (bad interpreter path, cwd gone): no retry
                self.gave_up = True
                say(f"{self.name} could not be started: {exc}")
                return
            finally:
                self._started.set()
            await _pump(self.process, prefix)
            code = await self.process.wait()
            if self._stopping:
                return
            if time.monotonic() - began >= self.policy.stable_after:
                self.restarts = 0
            if self.restarts >= self.policy.max_restarts:
                self.gave_up = True
                say(f"{self.name} exited with code {code}; gave up after {self.restarts} restarts")
                return
            self.restarts += 1
            delay = self.policy.backoff(self.restarts)
            say(
                f"{self.name} exited with code {code}; restarting in {delay:g}s "
                f"(restart {self.restarts} of {self.policy.max_restarts})"
            )
            await asyncio.sleep(delay)
            if self._stopping:
                return

    async def stop(self, grace: float) -> int | None:
        """Stop for good (no restart); the last exit code, None if it never ran."""
        self._stopping = True
        code = None
        if self.process is not None:
            code = await terminate(self.process, grace)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return code


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)

    async def start(self, child: Child) -> None:
        self.children.append(child)
        await child.start()

    def kill_all(self) -> None:
        """SIGKILL every child now (a second Ctrl-C: the user does not want to wait)."""
        for child in self.children:
            child._stopping = True
            if child.process is not None and child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()

    async def stop_all(self, grace: float = 15.0) -> None:
        """Stop every child at once (each gets SIGTERM, then SIGKILL after `grace`)."""
        await asyncio.gather(*(child.stop(grace) for child in self.children))
