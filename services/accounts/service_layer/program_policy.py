"""Translates a program's config (ProgramSpec) into the ledger's policy. Pure: no I/O."""

from __future__ import annotations

from datetime import timedelta

from runtime.programs.spec import ProgramSpec
from runtime.programs.spec_points import Expiry, PointKindExpiry
from services.accounts.domain.expiry_policy import NEVER_EXPIRES, ExpiryPolicy, ExpiryRule
from services.accounts.domain.model import NORMAL_KIND
from services.accounts.domain.policy import LedgerPolicy


def normal_expiry(expiry: Expiry) -> ExpiryPolicy:
    if expiry.mode == "never":
        return NEVER_EXPIRES
    if expiry.mode == "monthsAfterEarn":
        return ExpiryPolicy(ExpiryRule.MONTHS_AFTER, expiry.months)
    return ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, expiry.months)


def kind_expiry(expiry: PointKindExpiry) -> ExpiryPolicy:
    if expiry.mode == "daysAfterEarn":
        return ExpiryPolicy(ExpiryRule.DAYS_AFTER, expiry.days or 0)
    if expiry.mode == "endOfMonthAfterMonths":
        return ExpiryPolicy(ExpiryRule.END_OF_MONTH_AFTER, expiry.months or 0)
    return ExpiryPolicy(ExpiryRule.FIXED_DATE, fixed_date=expiry.date)


def ledger_policy(spec: ProgramSpec) -> LedgerPolicy:
    expiry = {NORMAL_KIND: normal_expiry(spec.expiry)}
    expiry.update({kind.id: kind_expiry(kind.expiry) for kind in spec.point_kinds})
    return LedgerPolicy(
        time_zone=spec.time_zone,
        expiry=expiry,
        allow_negative_balance=spec.earn.return_policy.clawback == "allowNegative",
        max_hold_ttl=max(timedelta(seconds=spec.redeem.hold_ttl_seconds), timedelta(days=31)),
    )
