"""Bulk member import and export: 20,000 rows streamed in, a re-run that changes nothing, an
export that streams out and imports back unchanged, per-row errors with row numbers, dry runs,
idempotency keys, and bad streams."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator

import grpc
from sqlalchemy import func, select

from runtime.service import ServiceApp
from services.accounts.adapters.orm import MemberRow
from services.accounts.service_layer.member_import import ImportMode, import_members
from tamaru.accounts.v1 import accounts_pb2, members_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, card, create_group, key, mask, member, refused

CHUNK = 64 * 1024


async def requests(
    body: Iterable[str], *, idempotency_key: str = "", mode: int = 2, dry_run: bool = False
) -> AsyncIterator[accounts_pb2.ImportMembersRequest]:
    """The header message, then the CSV text in chunks cut at arbitrary byte positions."""
    yield accounts_pb2.ImportMembersRequest(
        header=accounts_pb2.ImportMembersHeader(
            idempotency_key=idempotency_key or key(),
            mode=mode,  # type: ignore[arg-type]
            dry_run=dry_run,
        )
    )
    pending = b""
    for text in body:
        pending += text.encode()
        while len(pending) >= CHUNK:
            yield accounts_pb2.ImportMembersRequest(chunk=pending[:CHUNK])
            pending = pending[CHUNK:]
    if pending:
        yield accounts_pb2.ImportMembersRequest(chunk=pending)


async def import_csv(
    accounts: Accounts, body: Iterable[str], **header: object
) -> accounts_pb2.ImportMembersResponse:
    reply: accounts_pb2.ImportMembersResponse = await accounts.stub.ImportMembers(
        requests(body, **header),  # type: ignore[arg-type]
        metadata=accounts.program.metadata(),
    )
    return reply


async def export_csv(
    accounts: Accounts, request: accounts_pb2.ExportMembersRequest | None = None
) -> tuple[list[dict[str, str]], int]:
    """The exported rows as dicts, and how many chunks carried them."""
    call = accounts.stub.ExportMembers(
        request or accounts_pb2.ExportMembersRequest(), metadata=accounts.program.metadata()
    )
    data = b""
    chunks = 0
    async for reply in call:
        data += reply.chunk
        chunks += 1
    return list(csv.DictReader(io.StringIO(data.decode()))), chunks


def generated(count: int, groups: list[str]) -> Iterator[str]:
    yield "external_ref,display_name,email,group_ids,identifiers,attr.team\n"
    for i in range(count):
        yield (
            f'm{i:06},"Member {i}, Jr.",m{i}@example.jp,{groups[i % len(groups)]},'
            f"card_number:C{i:06},team-{i % 7}\n"
        )


async def test_twenty_thousand_rows_import_rerun_export_and_roundtrip(accounts: Accounts) -> None:
    count = 20_000
    groups = [await create_group(accounts, "North"), await create_group(accounts, "South")]
    started = time.monotonic()
    first = await import_csv(accounts, generated(count, groups))
    took = time.monotonic() - started
    assert (first.rows, first.enrolled, first.updated, first.rejected) == (count, count, 0, 0)
    assert took < 40, f"importing {count} rows took {took:.1f}s"

    found = await accounts.call(
        "ResolveIdentifier",
        accounts_pb2.ResolveIdentifierRequest(identifier=card("C012345")),
    )
    m = (await member(accounts, found.account_id)).member
    assert (m.external_ref, m.display_name, dict(m.attributes)) == (
        "m012345",
        "Member 12345, Jr.",
        {"team": "team-4"},
    )
    assert list(m.group_ids) == [groups[1]]
    await accounts.credit(found.account_id, 77)

    again = await import_csv(accounts, generated(count, groups))
    assert (again.rows, again.enrolled, again.updated, again.rejected) == (count, 0, 0, 0)

    rows, chunks = await export_csv(accounts)
    assert len(rows) == count
    assert chunks > count // 1000  # streamed a partition at a time, not built whole
    exported = next(r for r in rows if r["external_ref"] == "m012345")
    assert exported["identifiers"] == "card_number:C012345"
    assert (exported["available"], exported["held"], exported["status"]) == ("77", "0", "active")
    assert exported["attr.team"] == "team-4"
    assert exported["account_id"] == found.account_id

    # The export imports back as it is, changing nothing.
    header = ",".join(rows[0].keys())
    lines = (",".join(f'"{v}"' if "," in v else v for v in r.values()) + "\n" for r in rows)
    roundtrip = await import_csv(accounts, [header + "\n", *lines])
    assert (roundtrip.rows, roundtrip.enrolled, roundtrip.updated, roundtrip.rejected) == (
        count,
        0,
        0,
        0,
    )
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest(group_id=groups[0]))
    assert listed.page.next_page_token  # 10,000 members in North: several pages


async def test_row_errors_name_row_and_column_and_good_rows_still_import(
    accounts: Accounts,
) -> None:
    existing = await accounts.enrol("taken", identifiers=[card("OWNED")])
    body = (
        "external_ref,display_name,email,group_ids,identifiers\n"
        "ok-1,One,one@example.jp,,\n"  # row 1
        "bad-email,Two,not-an-email,,\n"  # row 2
        "bad-group,Three,,no-such-group,\n"  # row 3
        'quoted,"Multi\nline",,,\n'  # row 4: a newline inside quotes is one record
        "ok-1,Again,,,\n"  # row 5: same ref as row 1 in one batch
        "steal,Six,,,card_number:OWNED\n"  # row 6
        "short,Seven\n"  # row 7
        "\n"  # blank lines are skipped
        'ok-8,"Comma, Name",,,app_id:A8\n'  # row 8
    )
    reply = await import_csv(accounts, [body])
    errors = [(e.row, e.column, e.reason) for e in reply.errors]
    assert errors == [
        (2, "email", "INVALID_ARGUMENT"),
        (3, "group_ids", "GROUP_NOT_FOUND"),
        (4, "display_name", "INVALID_ARGUMENT"),
        (5, "external_ref", "DUPLICATE_ROW"),
        (6, "identifiers", "IDENTIFIER_IN_USE"),
        (7, "", "WRONG_COLUMN_COUNT"),
    ]
    assert (reply.rows, reply.enrolled, reply.updated, reply.rejected) == (8, 2, 0, 6)
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest())
    assert sorted(m.external_ref for m in listed.members) == ["ok-1", "ok-8", "taken"]
    assert [i.value for i in (await member(accounts, existing)).member.identifiers] == ["OWNED"]

    create_again = await import_csv(accounts, ["external_ref\nok-1\nnew-1\n"], mode=1)
    assert [(e.row, e.reason) for e in create_again.errors] == [(1, "MEMBER_EXISTS")]
    assert create_again.enrolled == 1


async def test_upsert_updates_only_the_columns_given(accounts: Accounts) -> None:
    group = await create_group(accounts, "Team")
    account_id = await accounts.enrol(
        "up-1", display_name="Old", email="keep@example.jp", attributes={"a": "1", "b": "2"}
    )
    body = f"external_ref,display_name,group_ids,identifiers,attr.a\nup-1,New,{group},app_id:X1,\n"
    reply = await import_csv(accounts, [body])
    assert (reply.enrolled, reply.updated) == (0, 1)
    m = (await member(accounts, account_id)).member
    assert (m.display_name, m.email) == ("New", "keep@example.jp")
    assert dict(m.attributes) == {"b": "2"}  # an empty attr cell removes the attribute
    assert list(m.group_ids) == [group]
    assert [i.value for i in m.identifiers] == ["X1"]
    in_group, _ = await export_csv(accounts, accounts_pb2.ExportMembersRequest(group_id=group))
    assert [(r["external_ref"], r["group_ids"], r["attr.b"]) for r in in_group] == [
        ("up-1", group, "2")
    ]


async def test_dry_run_reports_and_changes_nothing(accounts: Accounts) -> None:
    reply = await import_csv(
        accounts, ["external_ref,email\nd-1,d@example.jp\nd-2,broken\n"], dry_run=True
    )
    assert (reply.rows, reply.enrolled, reply.rejected) == (2, 1, 1)
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest())
    assert list(listed.members) == []


async def test_idempotency_key_replays_the_first_import_and_refuses_other_content(
    accounts: Accounts,
) -> None:
    body = ["external_ref,display_name\n", "k-1,First\n"]
    first = await import_csv(accounts, body, idempotency_key="import-1")
    account_id = (
        await accounts.call(
            "GetMember",
            accounts_pb2.GetMemberRequest(member=members_pb2.MemberSelector(external_ref="k-1")),
        )
    ).member.account_id
    await accounts.call(
        "UpdateMember",
        accounts_pb2.UpdateMemberRequest(
            idempotency_key=key(),
            member=by_id(account_id),
            changes=members_pb2.Member(display_name="Changed since"),
            update_mask=mask("display_name"),
        ),
    )
    # Same bytes cut differently: the stored response, and the import does not run again.
    replay = await import_csv(
        accounts, ["external_ref,display_name\nk-1,Fi", "rst\n"], idempotency_key="import-1"
    )
    assert replay == first
    assert (await member(accounts, account_id)).member.display_name == "Changed since"
    await refused(
        import_csv(accounts, ["external_ref\nk-2\n"], idempotency_key="import-1"),
        grpc.StatusCode.INVALID_ARGUMENT,
        field="header.idempotency_key",
        reason="IDEMPOTENCY_KEY_REUSED",
    )


async def test_bad_streams_are_invalid_and_name_the_part(accounts: Accounts) -> None:
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    async def only_chunks() -> AsyncIterator[accounts_pb2.ImportMembersRequest]:
        yield accounts_pb2.ImportMembersRequest(chunk=b"external_ref\nx\n")

    await refused(
        accounts.stub.ImportMembers(only_chunks(), metadata=accounts.program.metadata()),
        invalid,
        field="header",
    )
    await refused(import_csv(accounts, ["external_ref\nx\n"], mode=0), invalid, field="header.mode")
    await refused(import_csv(accounts, ["external_ref,shoe_size\nx,27\n"]), invalid, field="chunk")
    await refused(import_csv(accounts, ["display_name\nx\n"]), invalid, field="chunk")
    await refused(import_csv(accounts, [""]), invalid, field="chunk")
    await refused(import_csv(accounts, ['external_ref\n"unclosed\n']), invalid, field="chunk")

    async def bad_utf8() -> AsyncIterator[accounts_pb2.ImportMembersRequest]:
        yield accounts_pb2.ImportMembersRequest(
            header=accounts_pb2.ImportMembersHeader(
                idempotency_key=key(), mode=accounts_pb2.IMPORT_MODE_UPSERT
            )
        )
        yield accounts_pb2.ImportMembersRequest(chunk=b"external_ref\n\xff\xfe\n")

    await refused(
        accounts.stub.ImportMembers(bad_utf8(), metadata=accounts.program.metadata()),
        invalid,
        field="chunk",
    )
    await refused(
        accounts.stub.ExportMembers(
            accounts_pb2.ExportMembersRequest(group_id="missing"),
            metadata=accounts.program.metadata(),
        ).read(),
        grpc.StatusCode.NOT_FOUND,
        field="group_id",
    )
    listed = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest())
    assert list(listed.members) == []


async def test_import_writes_each_batch_before_the_rest_arrives(
    accounts: Accounts, accounts_app: ServiceApp
) -> None:
    """Memory stays at one batch: rows already committed while the stream is still coming."""
    assert accounts_app.ctx is not None
    ctx = accounts_app.ctx
    program_id = accounts.program.program_id
    committed_midway: list[int] = []

    async def records() -> AsyncIterator[str]:
        yield "external_ref\n"
        for i in range(250):
            if i == 220:
                async with ctx.uow() as uow:
                    committed_midway.append(
                        await uow.session.scalar(
                            select(func.count()).where(MemberRow.program_id == program_id)
                        )
                        or 0
                    )
            yield f"stream-{uuid.uuid4().hex[:8]}-{i}\n"

    report = await import_members(
        ctx.uow, program_id, records(), mode=ImportMode.UPSERT, dry_run=False, batch_size=100
    )
    assert report.enrolled == 250
    assert committed_midway == [200]
