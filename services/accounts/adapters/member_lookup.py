"""Resolves a MemberSelector (account id, external ref, or a linked identifier such as a card
number) to the member's account id, within one program."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import InvalidArgument, NotFound
from services.accounts.adapters.orm import IdentifierRow, MemberRow
from tamaru.accounts.v1 import members_pb2


def identifier_kind(type_: int) -> str:
    """`IDENTIFIER_TYPE_CARD_NUMBER` -> `card_number` (the `kind` column)."""
    if type_ == members_pb2.IDENTIFIER_TYPE_UNSPECIFIED:
        raise InvalidArgument("identifier.type is required", field="identifier.type")
    try:
        name = members_pb2.IdentifierType.Name(type_)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidArgument(f"unknown identifier type {type_}", field="identifier.type") from None
    return name.removeprefix("IDENTIFIER_TYPE_").lower()


async def resolve_account_id(
    session: AsyncSession,
    program_id: str,
    selector: members_pb2.MemberSelector,
    *,
    field: str = "member",
) -> str:
    which = selector.WhichOneof("selector")
    if which is None:
        raise InvalidArgument(
            f"{field} is required: give its account_id, external_ref or an identifier",
            field=field,
        )
    if which == "account_id":
        query = select(MemberRow.member_id).where(
            MemberRow.program_id == program_id, MemberRow.member_id == selector.account_id
        )
        shown = f"account {selector.account_id}"
    elif which == "external_ref":
        query = select(MemberRow.member_id).where(
            MemberRow.program_id == program_id, MemberRow.external_ref == selector.external_ref
        )
        shown = f"external_ref {selector.external_ref!r}"
    else:
        kind = identifier_kind(selector.identifier.type)
        query = select(IdentifierRow.member_id).where(
            IdentifierRow.program_id == program_id,
            IdentifierRow.kind == kind,
            IdentifierRow.value == selector.identifier.value,
        )
        shown = f"{kind} {selector.identifier.value!r}"
    account_id = await session.scalar(query)
    if account_id is None:
        raise NotFound(
            f"no member with {shown} in this program", reason="MEMBER_NOT_FOUND", field=field
        )
    return account_id
