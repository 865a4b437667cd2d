"""Thanks RPCs: send, reply, thread (its two parties only), timeline, allowance."""

from __future__ import annotations

import grpc

from services.earn.entrypoints.rpc_base import RpcBase
from services.earn.service_layer import thanks
from tamaru.earn.v1 import earn_pb2


class ThanksRpcs(RpcBase):
    async def SendThanks(
        self, request: earn_pb2.SendThanksRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.SendThanksResponse:
        return await self.mutate(
            "SendThanks",
            request.idempotency_key,
            request,
            earn_pb2.SendThanksResponse,
            lambda uow, program, actor: thanks.send_thanks(uow, self.deps, program, actor, request),
        )

    async def ReplyThanks(
        self, request: earn_pb2.ReplyThanksRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ReplyThanksResponse:
        return await self.mutate(
            "ReplyThanks",
            request.idempotency_key,
            request,
            earn_pb2.ReplyThanksResponse,
            lambda uow, program, actor: thanks.reply_thanks(
                uow, self.deps, program, actor, request
            ),
        )

    async def GetThanksThread(
        self, request: earn_pb2.GetThanksThreadRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.GetThanksThreadResponse:
        return await self.read(
            lambda uow, program, actor: thanks.thread(uow, self.deps, program, actor, request)
        )

    async def ListThanksTimeline(
        self, request: earn_pb2.ListThanksTimelineRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ListThanksTimelineResponse:
        return await self.read(lambda uow, program, actor: thanks.timeline(uow, program, request))

    async def GetThanksAllowance(
        self, request: earn_pb2.GetThanksAllowanceRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.GetThanksAllowanceResponse:
        return await self.read(
            lambda uow, program, actor: thanks.allowance(
                uow, self.deps, program, actor, request.member
            )
        )
