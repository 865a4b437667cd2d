"""Grant file import RPCs (admin): a streamed upload, and the job's progress and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from runtime.errors import InvalidArgument
from services.earn.domain.grant_files import FileLayout
from services.earn.entrypoints.rpc_base import RpcBase
from services.earn.service_layer import imports
from tamaru.earn.v1 import earn_pb2

MAX_FILE_BYTES = 200 * 1024 * 1024


class ImportRpcs(RpcBase):
    async def ImportGrants(
        self,
        request_iterator: AsyncIterator[earn_pb2.ImportGrantsRequest],
        context: grpc.aio.ServicerContext,
    ) -> earn_pb2.ImportGrantsResponse:
        caller = self.caller()
        layout: FileLayout | None = None
        chunks: list[bytes] = []
        size = 0
        async for part in request_iterator:
            if part.HasField("converter"):
                if layout is not None or chunks:
                    raise InvalidArgument("send the converter once, first", field="converter")
                c = part.converter
                layout = FileLayout(
                    encoding=c.encoding,
                    delimiter=c.delimiter,
                    header=not c.no_header,
                    columns=dict(c.columns),
                    fixed=dict(c.fixed),
                )
            else:
                size += len(part.chunk)
                if size > MAX_FILE_BYTES:
                    raise InvalidArgument("the file is larger than 200 MiB", field="chunk")
                chunks.append(part.chunk)
        if not chunks:
            raise InvalidArgument("the upload has no file content", field="chunk")
        job = await imports.import_grants(
            self.ctx.uow,
            self.deps,
            caller.program_id,
            caller.key_id,
            layout or FileLayout(),
            b"".join(chunks),
        )
        return earn_pb2.ImportGrantsResponse(job=job)

    async def GetImportJob(
        self, request: earn_pb2.GetImportJobRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.GetImportJobResponse:
        job = await self.read(
            lambda uow, program, actor: imports.get_job(uow, program, request.job_id)
        )
        return earn_pb2.GetImportJobResponse(job=job)
