"""File import RPCs (admin): grant and purchase files streamed up, and the job's progress."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from runtime.errors import InvalidArgument
from services.earn.entrypoints.rpc_base import RpcBase
from services.earn.service_layer import grant_imports, import_jobs, purchase_imports
from tamaru.earn.v1 import earn_pb2, imports_pb2

MAX_FILE_BYTES = 200 * 1024 * 1024


Upload = (
    AsyncIterator[earn_pb2.ImportGrantsRequest] | AsyncIterator[earn_pb2.ImportPurchasesRequest]
)


async def receive(parts: Upload) -> tuple[imports_pb2.Converter | None, bytes]:
    """The converter (optional, first) and the file's bytes of a streamed upload."""
    converter: imports_pb2.Converter | None = None
    chunks: list[bytes] = []
    size = 0
    async for part in parts:
        if part.HasField("converter"):
            if converter is not None or chunks:
                raise InvalidArgument("send the converter once, first", field="converter")
            converter = part.converter
        else:
            size += len(part.chunk)
            if size > MAX_FILE_BYTES:
                raise InvalidArgument("the file is larger than 200 MiB", field="chunk")
            chunks.append(part.chunk)
    if not chunks:
        raise InvalidArgument("the upload has no file content", field="chunk")
    return converter, b"".join(chunks)


class ImportRpcs(RpcBase):
    async def ImportGrants(
        self,
        request_iterator: AsyncIterator[earn_pb2.ImportGrantsRequest],
        context: grpc.aio.ServicerContext,
    ) -> earn_pb2.ImportGrantsResponse:
        caller = self.caller()
        converter, data = await receive(request_iterator)
        spec = self.ctx.programs.require_open(caller.program_id)
        job = await grant_imports.import_grants(
            self.ctx.uow,
            self.deps,
            caller.program_id,
            caller.key_id,
            import_jobs.layout_for(spec, converter, "grants"),
            data,
        )
        return earn_pb2.ImportGrantsResponse(job=job)

    async def ImportPurchases(
        self,
        request_iterator: AsyncIterator[earn_pb2.ImportPurchasesRequest],
        context: grpc.aio.ServicerContext,
    ) -> earn_pb2.ImportPurchasesResponse:
        caller = self.caller()
        converter, data = await receive(request_iterator)
        spec = self.ctx.programs.require_open(caller.program_id)
        job = await purchase_imports.import_purchases(
            self.ctx.uow,
            self.deps,
            caller.program_id,
            import_jobs.layout_for(spec, converter, "purchases"),
            data,
            self.record_purchase,
        )
        return earn_pb2.ImportPurchasesResponse(job=job)

    async def GetImportJob(
        self, request: earn_pb2.GetImportJobRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.GetImportJobResponse:
        job = await self.read(
            lambda uow, program, actor: import_jobs.get_job(uow, program, request.job_id)
        )
        return earn_pb2.GetImportJobResponse(job=job)
