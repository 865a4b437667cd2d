"""Resolves a MemberSelector (account id, external ref, or a linked identifier such as a card
number) to the member's account id, within one program."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.driver import fetch_all
from runtime.errors import InvalidArgument, NotFound, TamaruError
from tamaru.accounts.v1 import members_pb2

# Fixed statements straight to psycopg (see runtime/db/driver.py): one lookup is a primary-key
# or unique index probe, cheaper in PostgreSQL than compiling the query is in SQLAlchemy.
_BY_ID = "SELECT member_id FROM members WHERE program_id = %(p)s AND member_id = %(v)s"
_BY_REF = "SELECT member_id FROM members WHERE program_id = %(p)s AND external_ref = %(v)s"
_BY_IDENTIFIER = (
    "SELECT member_id FROM identifiers WHERE program_id = %(p)s AND kind = %(k)s AND value = %(v)s"
)
_MANY_BY_ID = (
    "SELECT member_id, member_id FROM members WHERE program_id = %(p)s AND member_id = ANY(%(v)b)"
)
_MANY_BY_REF = (
    "SELECT external_ref, member_id FROM members "
    "WHERE program_id = %(p)s AND external_ref = ANY(%(v)b)"
)
_MANY_BY_IDENTIFIER = (
    "SELECT i.kind, i.value, i.member_id FROM identifiers i "
    "JOIN unnest(CAST(%(k)b AS text[]), CAST(%(v)b AS text[])) AS w(kind, value) "
    "ON i.kind = w.kind AND i.value = w.value WHERE i.program_id = %(p)s"
)


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
    checked_later: bool = False,
) -> str:
    """The member's account id. `checked_later`: the caller reads or locks the account in the
    program next, inside `member_checked`, so an account id selector needs no query of its own
    (that read is the existence check, one round trip fewer on credits and balance reads)."""
    which = selector.WhichOneof("selector")
    if which is None:
        raise _required(field)
    if which == "account_id" and checked_later:
        return selector.account_id
    if which == "account_id":
        rows = await fetch_all(session, _BY_ID, {"p": program_id, "v": selector.account_id})
    elif which == "external_ref":
        rows = await fetch_all(session, _BY_REF, {"p": program_id, "v": selector.external_ref})
    else:
        kind = identifier_kind(selector.identifier.type)
        params = {"p": program_id, "k": kind, "v": selector.identifier.value}
        rows = await fetch_all(session, _BY_IDENTIFIER, params)
    if not rows:
        raise _not_found(selector, field)
    return str(rows[0][0])


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
        rows = await fetch_all(session, _MANY_BY_ID, {"p": program_id, "v": list(by_id)})
        _place(found, by_id, rows)
    if by_ref:
        rows = await fetch_all(session, _MANY_BY_REF, {"p": program_id, "v": list(by_ref)})
        _place(found, by_ref, rows)
    if by_identifier:
        kinds, values = (list(column) for column in zip(*by_identifier, strict=True))
        params = {"p": program_id, "k": kinds, "v": values}
        identifiers = await fetch_all(session, _MANY_BY_IDENTIFIER, params)
        _place(found, by_identifier, (((r[0], r[1]), r[2]) for r in identifiers))
    for index, selector in enumerate(selectors):
        if results[index] is not None:
            continue
        if index in found:
            results[index] = found[index]
        else:
            results[index] = _not_found(selector, field.format(index=index))
    return [r for r in results if r is not None]


@contextmanager
def member_checked(selector: members_pb2.MemberSelector, field: str = "member") -> Iterator[None]:
    """The ledger's "no such account in this program" as the resolver reports it: the same
    error, whether the selector was looked up first or the account read was the check."""
    try:
        yield
    except NotFound as exc:
        if exc.reason == "MEMBER_NOT_FOUND" and exc.field == "member_id":
            raise _not_found(selector, field) from None
        raise


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
