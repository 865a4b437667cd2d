"""Reading what another service's refusal tells us."""

from __future__ import annotations

from runtime.errors import TamaruError


def is_short_of_points(error: TamaruError) -> bool:
    """accounts refused a hold because the member has fewer points than asked for."""
    return error.reason == "INSUFFICIENT_POINTS"
