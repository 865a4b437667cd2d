"""POS RPCs: use points as a discount on a sale, and give them back when the sale is voided."""

from __future__ import annotations

import grpc

from runtime.idempotency import require_key
from services.redeem.adapters.messages import pos_discount_to_proto
from services.redeem.entrypoints.rpc_base import RpcBase
from services.redeem.service_layer import pos
from tamaru.redeem.v1 import redeem_pb2


class PosRpcs(RpcBase):
    async def UsePointsAtPos(
        self, request: redeem_pb2.UsePointsAtPosRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.UsePointsAtPosResponse:
        program_id = self.program(open_only=True)
        require_key(request.idempotency_key)
        pos.validate_discount(request.points, request.sale_id, request.store_id)
        member_id = await self.member_id(program_id, request.member)
        row, available = await pos.use_points(
            self.redeem.ctx.uow,
            self.redeem.accounts(program_id),
            program_id,
            member_id=member_id,
            points=request.points,
            sale_id=request.sale_id,
            store_id=request.store_id,
        )
        return redeem_pb2.UsePointsAtPosResponse(
            discount=pos_discount_to_proto(row), available=available
        )

    async def VoidPosDiscount(
        self, request: redeem_pb2.VoidPosDiscountRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.VoidPosDiscountResponse:
        program_id = self.program()
        require_key(request.idempotency_key)
        row = await pos.void_discount(
            self.redeem.ctx.uow, self.redeem.accounts(program_id), program_id, request.sale_id
        )
        return redeem_pb2.VoidPosDiscountResponse(discount=pos_discount_to_proto(row))
