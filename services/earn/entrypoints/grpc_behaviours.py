"""Behaviour and offer RPCs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from services.earn.adapters.messages import event_id
from services.earn.entrypoints.batch_streams import record_all
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
        async def record(entry: earn_pb2.BatchRecordBehavioursRequest) -> int:
            single = earn_pb2.RecordBehaviourRequest(behaviour=entry.behaviour)
            return (await self.RecordBehaviour(single, context)).result.total_points

        results, refused = await record_all(
            request_iterator,
            event_id=lambda e: e.behaviour.event_id,
            member=lambda e: e.behaviour.member,
            record=record,
        )
        return earn_pb2.BatchRecordBehavioursResponse(
            recorded=len(results) - refused, rejected=refused, results=results
        )

    async def ListOffers(
        self, request: earn_pb2.ListOffersRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ListOffersResponse:
        return await self.read(
            lambda uow, program, actor: behaviours.list_offers(
                uow, self.deps, program, actor, request.member
            )
        )
