"""Progress bars for long loads and timed phases, and the run's log lines.

`Console(enabled=False)` (the smoke test) prints nothing and draws no bar, so a scenario calls
the same methods whether anyone watches or not.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Bar(Protocol):
    def advance(self, n: float = 1) -> None: ...

    def describe(self, text: str) -> None: ...


class _RichBar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1) -> None:
        self._progress.advance(self._task, n)

    def describe(self, text: str) -> None:
        self._progress.update(self._task, description=text)


class _NoBar:
    def advance(self, n: float = 1) -> None:
        return None

    def describe(self, text: str) -> None:
        return None


class Console:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        # Piped to a file (CI, `| tee`), the tables keep their width instead of wrapping at 80.
        width = None if sys.stderr.isatty() else 180
        self.rich = RichConsole(stderr=True, highlight=False, width=width)
        self._started = time.monotonic()

    def log(self, message: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self._started
            self.rich.print(f"[dim]{elapsed:7.1f}s[/dim] {message}")

    @contextmanager
    def bar(self, label: str, total: float, *, unit: str = "rows") -> Iterator[Bar]:
        """A bar from 0 to `total` (rows loaded, seconds of a timed phase, ...)."""
        if not self.enabled:
            yield _NoBar()
            return
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if unit == "rows" else TextColumn(""),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.rich, transient=True) as progress:
            task = progress.add_task(label, total=total)
            yield _RichBar(progress, task)
        self.log(f"{label}: done")
