"""Who may call which EarnService method (see docs/earn.md).

granter may grant points and read the criteria, nothing else; backend (POS, e-commerce, app
backends) records events, previews, reads, and sends thanks for its members; readonly reads;
admin does everything.
"""

from __future__ import annotations

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tamaru.earn.v1 import earn_pb2

SERVICE = earn_pb2.DESCRIPTOR.services_by_name["EarnService"]

GRANT = {"GrantPoints", "ListGrantCriteria"}
READ = {"ListPurchases", "ListOffers", "ListThanksTimeline", "GetThanksAllowance"}
BACKEND = {
    "RecordPurchase", "BatchRecordPurchases", "PreviewPurchase", "RecordReturn",
    "RecordBehaviour", "BatchRecordBehaviours", "SendThanks", "ReplyThanks", "GetThanksThread",
}  # fmt: skip
ADMIN_ONLY = {"ImportGrants", "ImportPurchases", "GetImportJob"}


def _roles(method: str) -> set[Role]:
    if method in GRANT:
        return {Role.ADMIN, Role.GRANTER}
    if method in READ:
        return {Role.ADMIN, Role.BACKEND, Role.READONLY}
    if method in BACKEND:
        return {Role.ADMIN, Role.BACKEND}
    if method in ADMIN_ONLY:
        return {Role.ADMIN}
    return set()  # not listed: refused to everyone (a test proves none is left out)


POLICY = MethodPolicy.for_service(SERVICE, {m.name: _roles(m.name) for m in SERVICE.methods})
