"""What finding a server yields: its URL and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Origin = Literal["configured", "reachable", "started", "reused"]


@dataclass(frozen=True)
class Endpoint:
    """Where a server was found: `started` (by this call) and `reused` (left running by an
    earlier run under the same data directory) are embedded servers the project owns."""

    url: str
    origin: Origin
    shown_url: str  # the URL without its password, for printing

    @property
    def embedded(self) -> bool:
        return self.origin in ("started", "reused")

    def describe(self, what: str) -> str:
        return {
            "configured": f"using {what} at {self.shown_url} (from the environment)",
            "reachable": f"using {what} at {self.shown_url} (reachable)",
            "started": f"started embedded {what} at {self.shown_url}",
            "reused": f"using embedded {what} at {self.shown_url} (left running by an earlier run)",
        }[self.origin]


class DevStackError(RuntimeError):
    """A local server could not be found or started; the message says what to do."""
