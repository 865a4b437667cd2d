"""Bugs the hostile tests found (docs/reliability.md, "Findings"), and how to track one.

Every finding lists its exact failing cases. A finding is reported, not hidden: its cases fail
until the bug is fixed. If the lead decides a finding cannot be fixed now, adding its id to
`TRACKED` turns exactly its cases into `xfail(strict=True)`: the build is green while it is
open, and the day it is fixed its cases pass, strict xfail fails the build, and the id must
leave `TRACKED` (and the finding this file).

Case keys are `"<check>:<service>.<Method>"`; checks are `fuzz`, the edges (`nul`,
`long_strings`, `bad_timestamps`, `unknown_enums`), `tenant` and `role`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.hostile.discovery import Rpc


@dataclass(frozen=True)
class Finding:
    summary: str
    cases: frozenset[str]


def _cases(check: str, rpcs: str) -> frozenset[str]:
    return frozenset(f"{check}:{rpc}" for rpc in rpcs.split())


FINDINGS: dict[str, Finding] = {
    "F1": Finding(
        "a NUL character in a string reaches PostgreSQL: psycopg DataError -> INTERNAL",
        _cases(
            "nul",
            "accounts.AdjustPoints accounts.BatchCredit accounts.CloseMember "
            "accounts.CreateGroup accounts.Credit accounts.Debit accounts.DeleteGroup "
            "accounts.ExportMembers accounts.GetBalance accounts.GetMember "
            "accounts.IssueCardToken accounts.LinkIdentifier accounts.ListExpiringSoon "
            "accounts.ListGroupMembers accounts.ListHistory accounts.ListNews "
            "accounts.MergeMembers accounts.PostNews accounts.ReactivateMember "
            "accounts.ReverseTransaction accounts.SetManualTier accounts.SuspendMember "
            "accounts.Transfer accounts.UnpublishNews billing.ExportInvoice "
            "billing.FinalizeInvoice billing.GetInvoice billing.IssueCreditNote "
            "billing.MarkInvoicePaid billing.VoidInvoice catalog.CreateItem "
            "catalog.RecommendItems catalog.UpdateItem earn.BatchRecordBehaviours "
            "earn.BatchRecordPurchases earn.GetImportJob earn.GetThanksAllowance "
            "earn.GetThanksThread earn.GrantPoints earn.ListOffers earn.RecordBehaviour "
            "earn.RecordPurchase earn.RecordReturn earn.ReplyThanks earn.SendThanks "
            "redeem.CancelOrder redeem.CreateLottery redeem.DrawLottery redeem.EnterLottery "
            "redeem.GetLottery redeem.GetOrder redeem.ListLotteryResults redeem.ListOrders "
            "redeem.PlaceOrder redeem.UsePointsAtPos redeem.VoidPosDiscount",
        ),
    ),
    "F2": Finding(
        "a Timestamp outside 0001..9999 or with nanos outside 0..999,999,999: "
        "Timestamp.ToDatetime ValueError -> INTERNAL",
        _cases(
            "bad_timestamps",
            "accounts.PostNews billing.MarkInvoicePaid catalog.CreateItem catalog.UpdateItem "
            "earn.BatchRecordBehaviours earn.BatchRecordPurchases earn.PreviewPurchase "
            "earn.RecordBehaviour earn.RecordPurchase redeem.CreateLottery",
        ),
    ),
    "F3": Finding(
        "an undefined InvoiceStatus number in ListInvoices.statuses: ValueError -> INTERNAL",
        _cases("unknown_enums", "billing.ListInvoices"),
    ),
    "F4": Finding(
        "an ImportGrants CSV field over 131,072 characters: _csv.Error -> INTERNAL",
        _cases("long_strings", "earn.ImportGrants"),
    ),
}

# Findings the lead chose to track as strict xfails instead of fixing now (e.g. {"F4"}).
TRACKED: frozenset[str] = frozenset()


def tracked_reason(case: str) -> str | None:
    for finding_id in sorted(TRACKED):
        finding = FINDINGS[finding_id]
        if case in finding.cases:
            return f"{finding_id} (docs/reliability.md): {finding.summary}"
    return None


def expect(check: str, rpc: Rpc, *more: Any) -> Any:
    """`pytest.param(rpc, *more)` with a readable id, strict-xfail when its finding is tracked."""
    reason = tracked_reason(f"{check}:{rpc.id}")
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    case_id = "-".join([rpc.id, *(str(m) for m in more)])
    return pytest.param(rpc, *more, id=case_id, marks=marks)
