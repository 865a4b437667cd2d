"""What the docs say each role may call, transcribed per service, to hold the policies to.

The docs state roles in different shapes (docs/roles.md's table for accounts, a role table in
docs/catalog.md and docs/earn.md, a method x role table in docs/billing.md, prose in
docs/redeem.md), so each is transcribed here into method names, next to the exact doc text it
was read from. A test checks that text is still in the doc: edit the doc, and this table (and
the policy, if the doc changed its mind) must follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runtime.auth import Role

DOCS = Path(__file__).resolve().parents[2] / "docs"
PROGRAM_ROLES = (Role.ADMIN, Role.BACKEND, Role.READONLY, Role.GRANTER)
ALL = "all"  # every method of the service


@dataclass(frozen=True)
class Documented:
    doc: str  # file under docs/
    quotes: tuple[str, ...]  # the doc's words, verbatim, this transcription reads
    roles: dict[Role, frozenset[str] | str]  # program role -> methods (or ALL)


def _set(names: str) -> frozenset[str]:
    return frozenset(names.split())


ACCOUNTS_READ = _set(
    "GetMember ListMembers SearchMembers ResolveIdentifier ListGroups ListGroupMembers ListNews "
    "GetBalance ListHistory ListExpiringSoon ResolveCardToken Verify"
)
EARN_READ = _set("ListPurchases ListOffers ListThanksTimeline GetThanksAllowance")
REDEEM_READ = _set("GetOrder ListOrders GetLottery ListLotteries ListLotteryResults")
BILLING_READ = _set(
    "GetInvoice ListInvoices ExportInvoice GetUsageReport ExportUsageReport GetMemberGrowth "
    "CompareCampaigns"
)

DOCUMENTED: dict[str, Documented] = {
    "accounts": Documented(
        "roles.md",
        (
            "| `admin` | the sponsor's administrators | everything |",
            "| read; enrol/update members, link identifiers, card tokens; credit, batch credit, "
            "debit, transfer, reverse |",
            "| read only (members, balances, history, groups, news, verify) |",
            "| nothing in accounts: grants are an earn call |",
        ),
        {
            Role.ADMIN: ALL,
            Role.BACKEND: ACCOUNTS_READ
            | _set(
                "EnrolMember UpdateMember LinkIdentifier UnlinkIdentifier IssueCardToken "
                "Credit BatchCredit Debit Transfer ReverseTransaction"
            ),
            Role.READONLY: ACCOUNTS_READ,
            Role.GRANTER: frozenset(),
        },
    ),
    "catalog": Documented(
        "catalog.md",
        (
            "| backend | SearchItems, GetItem, RecommendItems, QuoteShipping, ListShippingRegions, "
            "RequestItem, ListItemRequests |",
            "| readonly | SearchItems, GetItem, QuoteShipping, ListShippingRegions |",
            "| admin | all |",
            "| granter | none |",
        ),
        {
            Role.ADMIN: ALL,
            Role.BACKEND: _set(
                "SearchItems GetItem RecommendItems QuoteShipping ListShippingRegions "
                "RequestItem ListItemRequests"
            ),
            Role.READONLY: _set("SearchItems GetItem QuoteShipping ListShippingRegions"),
            Role.GRANTER: frozenset(),
        },
    ),
    "earn": Documented(
        "earn.md",
        (
            "| granter | `GrantPoints`, `ListGrantCriteria` — nothing else |",
            "| backend | record/preview/return purchases, behaviours, thanks (send, reply, "
            "thread), reads |",
            "| readonly | `ListPurchases`, `ListOffers`, `ListThanksTimeline`, "
            "`GetThanksAllowance` |",
            "| admin | everything above |",
        ),
        {
            Role.ADMIN: ALL,
            Role.BACKEND: EARN_READ
            | _set(
                "RecordPurchase BatchRecordPurchases PreviewPurchase RecordReturn "
                "RecordBehaviour BatchRecordBehaviours SendThanks ReplyThanks GetThanksThread"
            ),
            Role.READONLY: EARN_READ,
            Role.GRANTER: _set("GrantPoints ListGrantCriteria"),
        },
    ),
    "redeem": Documented(
        "redeem.md",
        (
            "backend: order, cancel, fulfilment updates, POS, enter lotteries, reads; "
            "admin: all of that plus\ncreate and draw lotteries; readonly: reads; "
            "granter: nothing.",
        ),
        {
            Role.ADMIN: ALL,
            Role.BACKEND: REDEEM_READ
            | _set(
                "PlaceOrder CancelOrder UpdateFulfilment UsePointsAtPos VoidPosDiscount "
                "EnterLottery"
            ),
            Role.READONLY: REDEEM_READ,
            Role.GRANTER: frozenset(),
        },
    ),
    "billing": Documented(
        "billing.md",
        (
            "| GetInvoice, ListInvoices, ExportInvoice, GetUsageReport, ExportUsageReport, "
            "GetMemberGrowth, CompareCampaigns | yes | yes | no |",
            "| FinalizeInvoice, VoidInvoice, MarkInvoicePaid, IssueCreditNote, Reconcile "
            "| yes | no | no |",
        ),
        {
            Role.ADMIN: ALL,
            Role.BACKEND: frozenset(),
            Role.READONLY: BILLING_READ,
            Role.GRANTER: frozenset(),
        },
    ),
}


def documented_methods(service: str, every_method: frozenset[str]) -> dict[Role, frozenset[str]]:
    """Program role -> methods the docs let it call; empty for a service not transcribed."""
    documented = DOCUMENTED.get(service)
    if documented is None:
        return {}
    return {
        role: every_method if methods == ALL else frozenset(methods)
        for role, methods in documented.roles.items()
    }


def missing_quotes(service: str) -> list[str]:
    """The transcribed doc text no longer found in the doc (it changed: re-transcribe)."""
    documented = DOCUMENTED[service]
    text = (DOCS / documented.doc).read_text()
    return [quote for quote in documented.quotes if quote not in text]
