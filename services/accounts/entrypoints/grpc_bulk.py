"""Bulk RPCs of AccountsService: ImportMembers (a client stream of CSV chunks) and
ExportMembers (a server stream of CSV chunks). Neither holds the whole file in memory."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import AsyncIterator
from typing import Protocol

import grpc

from runtime.errors import IdempotencyKeyReused, InvalidArgument
from runtime.idempotency import require_key
from services.accounts.adapters.group_repository import get_group
from services.accounts.adapters.member_queries import MemberFilter
from services.accounts.adapters.stream_idempotency import store_response, stored_response
from services.accounts.domain.member_csv import RecordSplitter
from services.accounts.entrypoints.member_convert import status_filter
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer.member_export import export_members
from services.accounts.service_layer.member_import import ImportMode, ImportReport, import_members
from tamaru.accounts.v1 import accounts_pb2

SCOPE = "accounts.ImportMembers"
_MODES = {
    accounts_pb2.IMPORT_MODE_CREATE: ImportMode.CREATE,
    accounts_pb2.IMPORT_MODE_UPSERT: ImportMode.UPSERT,
}


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


async def csv_records(
    requests: AsyncIterator[accounts_pb2.ImportMembersRequest], fingerprint: Digest
) -> AsyncIterator[str]:
    """The CSV records of the chunk messages, decoded as they arrive; every byte also goes
    into `fingerprint` (the idempotency check compares whole uploads)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    splitter = RecordSplitter()
    async for message in requests:
        if message.WhichOneof("part") != "chunk":
            raise InvalidArgument("only the first message may carry the header", field="header")
        fingerprint.update(message.chunk)
        try:
            text = decoder.decode(message.chunk)
        except UnicodeDecodeError:
            raise InvalidArgument("the CSV is not UTF-8 text", field="chunk") from None
        for record in splitter.feed(text):
            yield record
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidArgument("the CSV ends inside a UTF-8 character", field="chunk") from None
    for record in [*splitter.feed(text), *splitter.finish()]:
        yield record


def report_proto(report: ImportReport) -> accounts_pb2.ImportMembersResponse:
    return accounts_pb2.ImportMembersResponse(
        rows=report.rows,
        enrolled=report.enrolled,
        updated=report.updated,
        rejected=report.rejected,
        errors=[
            accounts_pb2.ImportRowError(
                row=e.row, column=e.column, reason=e.reason, message=e.message
            )
            for e in report.errors
        ],
    )


class BulkRpcs(RpcBase):
    async def ImportMembers(
        self,
        request_iterator: AsyncIterator[accounts_pb2.ImportMembersRequest],
        context: grpc.aio.ServicerContext,
    ) -> accounts_pb2.ImportMembersResponse:
        program_id = self.caller().program_id
        self.ctx.programs.require_open(program_id)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            raise InvalidArgument("the first message must carry the header", field="header")
        header = first.header
        key = require_key(header.idempotency_key)
        if header.mode not in _MODES:
            raise InvalidArgument("header.mode must be CREATE or UPSERT", field="header.mode")
        fingerprint = hashlib.sha256()
        fingerprint.update(
            accounts_pb2.ImportMembersHeader(
                mode=header.mode, dry_run=header.dry_run
            ).SerializeToString(deterministic=True)
        )
        records = csv_records(request_iterator, fingerprint)
        prior = (
            None if header.dry_run else await stored_response(self.ctx.uow, program_id, SCOPE, key)
        )
        if prior is not None:
            async for _ in records:  # read it all to compare with the first upload
                pass
            stored_hash, response = prior
            if fingerprint.digest() != stored_hash:
                raise IdempotencyKeyReused(
                    f"idempotency_key {key!r} was already used for a different import",
                    field="header.idempotency_key",
                )
            return accounts_pb2.ImportMembersResponse.FromString(response)
        report = await import_members(
            self.ctx.uow,
            program_id,
            records,
            mode=_MODES[header.mode],
            dry_run=header.dry_run,
        )
        reply = report_proto(report)
        if not header.dry_run:
            await store_response(
                self.ctx.uow,
                program_id,
                SCOPE,
                key,
                fingerprint.digest(),
                reply.SerializeToString(deterministic=True),
            )
        return reply

    async def ExportMembers(
        self, request: accounts_pb2.ExportMembersRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[accounts_pb2.ExportMembersResponse]:
        program_id = self.caller().program_id
        self.ctx.programs.get(program_id)
        where = MemberFilter(
            group_id=request.group_id,
            include_subgroups=request.include_subgroups,
            status=status_filter(request.status),
        )
        if where.group_id:
            async with self.ctx.uow() as uow:
                group = await get_group(uow.session, program_id, where.group_id)
            where = MemberFilter(
                group_id=group.group_id,
                group_path=group.path,
                include_subgroups=where.include_subgroups,
                status=where.status,
            )
        async for chunk in export_members(self.ctx.uow, program_id, where):
            yield accounts_pb2.ExportMembersResponse(chunk=chunk)
