"""A service process whose wall clock is off: libfaketime (the `libfaketime` package ships the
shared library) preloaded into the process, with a fixed offset.

Only the wall clock moves (`time.time()`, `datetime.now()`, `CLOCK_REALTIME` for C code such as
gRPC's); the monotonic clock, which asyncio's timers, deadlines and timeouts use, is left alone,
as NTP stepping a host's clock would leave it. PostgreSQL and NATS keep the true time.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

_LIBRARY = ("vendor", "libfaketime", "src", "libfaketime.so.1")


@cache
def faketime_library() -> Path | None:
    """The libfaketime shared library, or None where it is not installed (then no `skew`)."""
    spec = importlib.util.find_spec("libfaketime")
    if spec is None or not spec.submodule_search_locations:
        return None
    library = Path(next(iter(spec.submodule_search_locations)), *_LIBRARY)
    return library if library.is_file() else None


def skewed_clock_env(offset_seconds: float) -> dict[str, str]:
    """Environment variables that start a process `offset_seconds` off the true time (none
    for 0)."""
    if not offset_seconds:
        return {}
    library = faketime_library()
    if library is None:
        raise RuntimeError("clock skew needs the libfaketime package (pip install libfaketime)")
    preload = os.environ.get("LD_PRELOAD", "")
    return {
        "LD_PRELOAD": f"{library}:{preload}" if preload else str(library),
        "FAKETIME": f"{offset_seconds:+.0f}",  # relative: seconds ahead (+) or behind (-)
        # Both spellings: the variable was renamed between libfaketime releases.
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
