"""Proto <-> service-layer conversions for the member, group and news RPCs."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.field_mask_pb2 import FieldMask

from runtime.errors import InvalidArgument
from services.accounts.adapters.event_mapping import timestamp
from services.accounts.adapters.member_queries import MemberView
from services.accounts.adapters.orm import GroupRow, IdentifierRow
from services.accounts.domain.members import StatusAction
from services.accounts.service_layer.members import status_proto
from tamaru.accounts.v1 import ledger_pb2, members_pb2


def identifier_kind(type_: int, field: str) -> str:
    """`IDENTIFIER_TYPE_CARD_NUMBER` -> `card_number` (the `kind` column), naming `field`."""
    if type_ == members_pb2.IDENTIFIER_TYPE_UNSPECIFIED:
        raise InvalidArgument(f"{field} is required", field=field)
    try:
        name = members_pb2.IdentifierType.Name(type_)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidArgument(f"unknown {field} {type_}", field=field) from None
    return name.removeprefix("IDENTIFIER_TYPE_").lower()


def identifier_proto(row: IdentifierRow) -> members_pb2.Identifier:
    return members_pb2.Identifier(
        type=members_pb2.IdentifierType.Value(f"IDENTIFIER_TYPE_{row.kind.upper()}"),
        value=row.value,
        primary=row.is_primary,
        linked_at=timestamp(row.linked_at),
    )


def member_proto(view: MemberView, tier: ledger_pb2.TierStatus | None = None) -> members_pb2.Member:
    """`tier`: the full status (GetMember); lists show the stored tier id only."""
    row = view.row
    member = members_pb2.Member(
        account_id=row.member_id,
        external_ref=row.external_ref,
        status=status_proto(row.status),
        display_name=row.display_name,
        email=row.email,
        phone=row.phone,
        birth_date=row.birth_date.isoformat() if row.birth_date else "",
        attributes=row.attributes or {},
        group_ids=view.group_ids,
        identifiers=[identifier_proto(i) for i in view.identifiers],
        tier=tier or ledger_pb2.TierStatus(tier_id=row.tier_id),
        enrolled_at=timestamp(row.joined_at),
        updated_at=timestamp(row.updated_at),
        merged_into_account_id=row.merged_into or "",
    )
    return member


def status_filter(value: int) -> str:
    """A ListMembers/ExportMembers status filter: "" for none."""
    if value == ledger_pb2.ACCOUNT_STATUS_UNSPECIFIED:
        return ""
    try:
        return ledger_pb2.AccountStatus.Name(value).removeprefix("ACCOUNT_STATUS_").lower()  # type: ignore[arg-type]
    except ValueError:
        raise InvalidArgument(f"unknown status {value}", field="status") from None


def mask_paths(mask: FieldMask, allowed: Iterable[str]) -> set[str]:
    """The update mask's paths; INVALID_ARGUMENT for none or an unknown one."""
    known = set(allowed)
    paths = set(mask.paths)
    if not paths:
        raise InvalidArgument(
            f"update_mask is required: name the fields to change ({', '.join(sorted(known))})",
            field="update_mask",
        )
    unknown = sorted(paths - known)
    if unknown:
        raise InvalidArgument(
            f"update_mask names {unknown[0]!r}; it may name {', '.join(sorted(known))}",
            field="update_mask",
        )
    return paths


def group_proto(row: GroupRow, member_count: int) -> members_pb2.Group:
    return members_pb2.Group(
        group_id=row.group_id,
        name=row.name,
        parent_group_id=row.parent_id or "",
        description=row.description,
        member_count=member_count,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


STATUS_ACTIONS = {
    "SuspendMember": StatusAction.SUSPEND,
    "ReactivateMember": StatusAction.REACTIVATE,
    "CloseMember": StatusAction.CLOSE,
}
