"""Purchase, return, preview and grant RPCs. Thin: proto -> handler -> proto."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import InvalidArgument, TamaruError
from runtime.messaging.commands import error_detail
from services.earn.adapters import paging, repository
from services.earn.adapters.messages import event_id, purchase_record, time_or_now
from services.earn.entrypoints.rpc_base import RpcBase
from services.earn.service_layer import grants, purchase_batches, purchases
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p

# Purchases per earn transaction: two accounts commands for all of them, locks held briefly.
BATCH_CHUNK = 200


class PurchaseRpcs(RpcBase):
    async def ListGrantCriteria(
        self, request: earn_pb2.ListGrantCriteriaRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ListGrantCriteriaResponse:
        spec = self.ctx.programs.spec(self.caller().program_id)
        return earn_pb2.ListGrantCriteriaResponse(
            criteria=grants.criterion_protos(spec),
            allow_free_amount_grants=spec.allow_free_amount_grants,
        )

    async def GrantPoints(
        self, request: earn_pb2.GrantPointsRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.GrantPointsResponse:
        return await self.mutate(
            "GrantPoints",
            request.idempotency_key,
            request,
            earn_pb2.GrantPointsResponse,
            lambda uow, program, actor: grants.grant_points(
                uow, self.deps, program, actor, request
            ),
        )

    async def RecordPurchase(
        self, request: earn_pb2.RecordPurchaseRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.RecordPurchaseResponse:
        return await self.record_purchase(request)

    async def BatchRecordPurchases(
        self,
        request_iterator: AsyncIterator[earn_pb2.BatchRecordPurchasesRequest],
        context: grpc.aio.ServicerContext,
    ) -> earn_pb2.BatchRecordPurchasesResponse:
        caller = self.caller()
        response = earn_pb2.BatchRecordPurchasesResponse()
        chunk: list[p.Purchase] = []

        async def flush() -> None:
            purchases = list(chunk)
            chunk.clear()
            outcomes = await run_in_transaction(
                self.ctx.uow,
                lambda uow: purchase_batches.record_purchases(
                    uow, self.deps, caller.program_id, caller.key_id, purchases
                ),
            )
            for msg, outcome in zip(purchases, outcomes, strict=True):
                result = response.results.add(index=len(response.results), event_id=msg.purchase_id)
                if isinstance(outcome, TamaruError):
                    result.error.CopyFrom(error_detail(outcome))
                    response.rejected += 1
                else:
                    result.points = outcome.result.total_points
                    response.recorded += 1

        async for entry in request_iterator:
            chunk.append(entry.purchase)
            if len(chunk) >= BATCH_CHUNK:
                await flush()
        if chunk:
            await flush()
        return response

    async def PreviewPurchase(
        self, request: earn_pb2.PreviewPurchaseRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.PreviewPurchaseResponse:
        return await self.read(
            lambda uow, program, actor: purchases.preview_purchase(
                uow, self.deps, program, actor, request.purchase
            )
        )

    async def RecordReturn(
        self, request: earn_pb2.RecordReturnRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.RecordReturnResponse:
        key = event_id(request.return_id, "return_id")
        event_id(request.purchase_id, "purchase_id")
        if request.amount_yen < 0:
            raise InvalidArgument("amount_yen must not be negative", field="amount_yen")
        return await self.mutate(
            "RecordReturn",
            key,
            request,
            earn_pb2.RecordReturnResponse,
            lambda uow, program, actor: purchases.record_return(
                uow, self.deps, program, actor, request
            ),
        )

    async def ListPurchases(
        self, request: earn_pb2.ListPurchasesRequest, context: grpc.aio.ServicerContext
    ) -> earn_pb2.ListPurchasesResponse:
        size = paging.page_size(request.page.page_size)
        after = paging.decode(request.page.page_token)

        async def work(uow: UnitOfWork, program: str, actor: str) -> earn_pb2.ListPurchasesResponse:
            member = await self.deps.accounts(program, actor).resolve(request.member)
            rows = await repository.purchases_page(
                uow.session,
                program,
                member.account_id,
                size=size,
                after=after,
                since=time_or_now(request.since, True) if request.HasField("since") else None,
                until=time_or_now(request.until, True) if request.HasField("until") else None,
                store=request.store,
                channel=request.channel,
            )
            token = ""
            if len(rows) > size:
                rows = rows[:size]
                token = paging.encode(rows[-1].occurred_at, rows[-1].purchase_id)
            return earn_pb2.ListPurchasesResponse(
                purchases=[purchase_record(r) for r in rows],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await self.read(work)
