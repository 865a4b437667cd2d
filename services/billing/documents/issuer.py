"""Who issues the invoices (the platform operator), as printed on every document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.billing.domain.periods import Period


@dataclass(frozen=True)
class Issuer:
    name: str = "Tamaru platform operator"
    address: str = ""
    # Japan's qualified invoice issuer number ("T" + 13 digits), printed when set.
    registration_number: str = ""
    email: str = ""
    bank_account: str = ""


def due_date(period: Period) -> date:
    """Payment is due at the end of the month after the billed period (月末締め翌月末払い)."""
    return period.plus(2).first_day() - timedelta(days=1)
