"""Behaviour and offer RPCs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from runtime.errors import TamaruError
from runtime.messaging.commands import error_detail
from services.earn.adapters.messages import event_id
from services.earn.entrypoints.rpc_base import RpcBase
from services.earn.service_layer import behaviours
from tamaru.earn.v1 import earn_pb2


class BehaviourRpcs(RpcBase):
    async def RecordBehaviour(
        self, request: earn_pb2.RecordBehaviourRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.RecordBehaviourResponse:
        key = event_id(request.behaviour.event_id, "behaviour.event_id")
        return await self.mutate(
            "RecordBehaviour",
            key,
            request,
            earn_pb2.RecordBehaviourResponse,
            lambda uow, program, actor: behaviours.record_behaviour(
                uow, self.deps, program, actor, request.behaviour
            ),
        )

    async def BatchRecordBehaviours(
        self,
        request_iterator: AsyncIterator[earn_pb2.BatchRecordBehavioursRequest],
        context: grpc.aio.ServicerContext,
    ) -> earn_pb2.BatchRecordBehavioursResponse:
        response = earn_pb2.BatchRecordBehavioursResponse()
        index = 0
        async for entry in request_iterator:
            result = earn_pb2.BatchEntryResult(index=index, event_id=entry.behaviour.event_id)
            try:
                single = earn_pb2.RecordBehaviourRequest(behaviour=entry.behaviour)
                recorded = await self.RecordBehaviour(single, context)
                result.points = recorded.result.total_points
                response.recorded += 1
            except TamaruError as exc:
                result.error.CopyFrom(error_detail(exc))
                response.rejected += 1
            response.results.append(result)
            index += 1
        return response

    async def ListOffers(
        self, request: earn_pb2.ListOffersRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ListOffersResponse:
        return await self.read(
            lambda uow, program, actor: behaviours.list_offers(
                uow, self.deps, program, actor, request.member
            )
        )
