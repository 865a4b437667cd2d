"""Resolves a MemberSelector (account id, external ref, or a linked identifier such as a card
number) to the member's account id, within one program."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.errors import InvalidArgument, NotFound, TamaruError
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
        raise _required(field)
    if which == "account_id":
        query = select(MemberRow.member_id).where(
            MemberRow.program_id == program_id, MemberRow.member_id == selector.account_id
        )
    elif which == "external_ref":
        query = select(MemberRow.member_id).where(
            MemberRow.program_id == program_id, MemberRow.external_ref == selector.external_ref
        )
    else:
        query = select(IdentifierRow.member_id).where(
            IdentifierRow.program_id == program_id,
            IdentifierRow.kind == identifier_kind(selector.identifier.type),
            IdentifierRow.value == selector.identifier.value,
        )
    account_id = await session.scalar(query)
    if account_id is None:
        raise _not_found(selector, field)
    return account_id


async def resolve_account_ids(
    session: AsyncSession,
    program_id: str,
    selectors: Sequence[members_pb2.MemberSelector],
    *,
    field: str = "entries[{index}].member",
) -> list[str | TamaruError]:
    """Resolve many selectors with one query per selector type (a batch of 1,000 entries is
    three round trips, not 1,000). Each position gets the account id or its own error, named
    as `field` with the entry's index."""
    results: list[str | TamaruError | None] = [None] * len(selectors)
    by_id: dict[str, list[int]] = {}
    by_ref: dict[str, list[int]] = {}
    by_identifier: dict[tuple[str, str], list[int]] = {}
    for index, selector in enumerate(selectors):
        name = field.format(index=index)
        which = selector.WhichOneof("selector")
        try:
            if which is None:
                raise _required(name)
            if which == "account_id":
                by_id.setdefault(selector.account_id, []).append(index)
            elif which == "external_ref":
                by_ref.setdefault(selector.external_ref, []).append(index)
            else:
                kind = identifier_kind(selector.identifier.type)
                by_identifier.setdefault((kind, selector.identifier.value), []).append(index)
        except InvalidArgument as exc:
            exc.field = f"{name}.{exc.field}" if exc.field == "identifier.type" else exc.field
            results[index] = exc
    found: dict[int, str] = {}
    if by_id:
        rows = await session.execute(
            select(MemberRow.member_id, MemberRow.member_id.label("account_id")).where(
                MemberRow.program_id == program_id, MemberRow.member_id.in_(list(by_id))
            )
        )
        _place(found, by_id, rows)
    if by_ref:
        rows = await session.execute(
            select(MemberRow.external_ref, MemberRow.member_id).where(
                MemberRow.program_id == program_id, MemberRow.external_ref.in_(list(by_ref))
            )
        )
        _place(found, by_ref, rows)
    if by_identifier:
        identifiers = await session.execute(
            select(IdentifierRow.kind, IdentifierRow.value, IdentifierRow.member_id).where(
                IdentifierRow.program_id == program_id,
                tuple_(IdentifierRow.kind, IdentifierRow.value).in_(list(by_identifier)),
            )
        )
        _place(found, by_identifier, (((k, v), m) for k, v, m in identifiers))
    for index, selector in enumerate(selectors):
        if results[index] is not None:
            continue
        if index in found:
            results[index] = found[index]
        else:
            results[index] = _not_found(selector, field.format(index=index))
    return [r for r in results if r is not None]


def _place(found: dict[int, str], wanted: Mapping[Any, list[int]], rows: Iterable[Any]) -> None:
    for key, member_id in rows:
        for index in wanted.get(key, ()):
            found[index] = member_id


def _required(field: str) -> InvalidArgument:
    return InvalidArgument(
        f"{field} is required: give its account_id, external_ref or an identifier", field=field
    )


def _not_found(selector: members_pb2.MemberSelector, field: str) -> NotFound:
    return NotFound(
        f"no member with {_shown(selector)} in this program",
        reason="MEMBER_NOT_FOUND",
        field=field,
    )


def _shown(selector: members_pb2.MemberSelector) -> str:
    which = selector.WhichOneof("selector")
    if which == "account_id":
        return f"account {selector.account_id}"
    if which == "external_ref":
        return f"external_ref {selector.external_ref!r}"
    kind = identifier_kind(selector.identifier.type)
    return f"{kind} {selector.identifier.value!r}"
