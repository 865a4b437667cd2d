"""Sampling profiles of a service under load (`python -m bench --profile`): py-spy attached to
the service process during a phase, then a summary of where its CPU went.

py-spy samples the running process from outside (no code change, `--nonblocking` so the
service is not paused per sample). The raw collapsed stacks are kept beside the results; the
summary groups each sample's innermost frame by layer (gRPC, SQLAlchemy, psycopg, protobuf,
our code...) and lists our own functions by inclusive time.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench.results import ProfileSummary

# First match wins: more specific paths before the general ones.
LAYERS = (
    ("/services/", "our code: services"),
    ("/runtime/", "our code: runtime"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/psycopg", "psycopg"),
    ("/grpc", "gRPC"),
    ("/google/protobuf", "protobuf"),
    ("/opentelemetry", "OpenTelemetry"),
    ("/nats/", "nats-py"),
    ("/asyncio/", "asyncio event loop"),
    ("/greenlet", "greenlet"),
)
OURS = ("/services/", "/runtime/")


def py_spy_binary() -> str | None:
    beside = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    return beside or shutil.which("py-spy")


class Profiler:
    def __init__(self, out_dir: Path) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy not found: run `make install` (it is a dev dependency)")
        self._binary = binary
        self.out_dir = out_dir
        self.summaries: list[ProfileSummary] = []

    @asynccontextmanager
    async def record(self, operation: str, pid: int) -> AsyncIterator[None]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        raw = self.out_dir / f"{operation}.txt"
        process = await asyncio.create_subprocess_exec(
            self._binary, "record", "--pid", str(pid), "--format", "raw", "--output", str(raw),
            "--rate", "200", "--nonblocking", "--full-filenames",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(0.5)  # py-spy attaches before the load starts
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            await process.wait()
        if raw.exists():
            self.summaries.append(summarize(operation, raw))


def _layer(frame: str) -> str:
    for needle, layer in LAYERS:
        if needle in frame:
            return layer
    return "other (stdlib, interpreter)"


def _function(frame: str) -> str:
    """`credit (/work/main/services/accounts/service_layer/ledger.py:66)` ->
    `services/accounts/service_layer/ledger.py:credit`."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for root in OURS:
        if root in path:
            path = root.strip("/") + "/" + path.split(root, 1)[1]
            break
    return f"{path}:{name}"


def summarize(operation: str, raw: Path, top: int = 15) -> ProfileSummary:
    """Collapsed stacks (`frame;frame;... count` per line) -> self time by layer and our
    functions' inclusive time, as percentages of all samples."""
    by_layer: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        by_layer[_layer(frames[-1])] += count
        for name in {_function(f) for f in frames if any(root in f for root in OURS)}:
            inclusive[name] += count
    scale = 100 / total if total else 0.0
    return ProfileSummary(
        operation=operation,
        samples=total,
        by_layer={k: round(v * scale, 1) for k, v in by_layer.most_common()},
        top_inclusive=[(k, round(v * scale, 1)) for k, v in inclusive.most_common(top)],
        raw_file=str(raw),
    )
