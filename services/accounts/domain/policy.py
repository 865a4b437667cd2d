"""The program settings the ledger decides by (from the program's config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.accounts.domain.expiry_policy import NEVER_EXPIRES, ExpiryPolicy, zone
from services.accounts.domain.model import NORMAL_KIND


def _default_expiry() -> Mapping[str, ExpiryPolicy]:
    return {NORMAL_KIND: NEVER_EXPIRES}


@dataclass(frozen=True)
class LedgerPolicy:
    time_zone: str = "UTC"
    # One entry per point kind: "normal" plus the program's period-limited kinds.
    expiry: Mapping[str, ExpiryPolicy] = field(default_factory=_default_expiry)
    # A clawback (return after the points were spent) may leave the balance negative; when
    # False it stops at zero and records the shortfall.
    allow_negative_balance: bool = False
    max_hold_ttl: timedelta = timedelta(days=31)

    def __post_init__(self) -> None:
        zone(self.time_zone)  # an unknown zone fails here, naming the field
