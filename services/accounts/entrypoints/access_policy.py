"""Who may call which AccountsService method (documented in docs/roles.md).

readonly: look; backend (the sponsor's site, POS, app backends): look, enrol and identify
members, move points; admin: everything, including corrections, merges, tiers, groups, news
and bulk data. granter may only grant, which is an earn call, so it has nothing here.
"""

from __future__ import annotations

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tamaru.accounts.v1 import accounts_pb2

SERVICE = accounts_pb2.DESCRIPTOR.services_by_name["AccountsService"]

READ = {
    "GetMember", "ListMembers", "SearchMembers", "ResolveIdentifier", "ListGroups",
    "ListGroupMembers", "ListNews", "GetBalance", "ListHistory", "ListExpiringSoon",
    "ResolveCardToken", "Verify",
}  # fmt: skip
BACKEND = {
    "EnrolMember", "UpdateMember", "LinkIdentifier", "UnlinkIdentifier", "IssueCardToken",
    "Credit", "BatchCredit", "Debit", "Transfer", "ReverseTransaction",
}  # fmt: skip
ADMIN_ONLY = {
    "SuspendMember", "ReactivateMember", "CloseMember", "MergeMembers", "CreateGroup",
    "UpdateGroup", "DeleteGroup", "PostNews", "UpdateNews", "UnpublishNews", "AdjustPoints",
    "SetManualTier", "ImportMembers", "ExportMembers",
}  # fmt: skip


def _roles(method: str) -> set[Role]:
    if method in READ:
        return {Role.ADMIN, Role.BACKEND, Role.READONLY}
    if method in BACKEND:
        return {Role.ADMIN, Role.BACKEND}
    if method in ADMIN_ONLY:
        return {Role.ADMIN}
    return set()  # not listed: refused to everyone (a test proves none is left out)


POLICY = MethodPolicy.for_service(SERVICE, {m.name: _roles(m.name) for m in SERVICE.methods})
