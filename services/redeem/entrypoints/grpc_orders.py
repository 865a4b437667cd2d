"""Order RPCs: place, read, list, cancel, fulfilment."""

from __future__ import annotations

import grpc

from runtime.db.unit_of_work import run_read
from runtime.errors import InvalidArgument, error_for_code
from runtime.idempotency import require_key, run_idempotent
from services.redeem.adapters.messages import (
    STATUS_FROM_PROTO,
    address_from_proto,
    order_to_proto,
)
from services.redeem.adapters.order_repository import OrderRepository
from services.redeem.domain.fulfilment import require_order_id
from services.redeem.domain.orders import LineRequest, Order, OrderStatus
from services.redeem.entrypoints.rpc_base import RpcBase
from services.redeem.service_layer import after_sale
from services.redeem.service_layer.place_order import PlaceOrder, fingerprint, place_order
from tamaru.redeem.v1 import redeem_pb2

MAX_PAGE = 200
DEFAULT_PAGE = 50


def raise_if_failed(order: Order) -> None:
    """A failed order answers with the error that failed it (also on every retry)."""
    if order.status is OrderStatus.FAILED:
        raise error_for_code(
            order.failure_code,
            f"order {order.order_id} failed: {order.failure_message}",
            reason=order.failure_reason,
            field=order.failure_field,
        )


class OrderRpcs(RpcBase):
    async def PlaceOrder(
        self, request: redeem_pb2.PlaceOrderRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.PlaceOrderResponse:
        program_id = self.program(open_only=True)
        require_key(request.idempotency_key)
        member_id = await self.member_id(program_id, request.member)
        cmd = PlaceOrder(
            program_id=program_id,
            idempotency_key=request.idempotency_key,
            member_id=member_id,
            lines=tuple(LineRequest(line.sku, line.quantity) for line in request.lines),
            address=(
                address_from_proto(request.shipping_address)
                if request.HasField("shipping_address")
                else None
            ),
            payment_token=request.payment_token,
        )
        order = await place_order(
            self.redeem.runner, self.redeem.catalog(program_id), cmd, fingerprint(request)
        )
        raise_if_failed(order)
        return redeem_pb2.PlaceOrderResponse(order=order_to_proto(order))

    async def GetOrder(
        self, request: redeem_pb2.GetOrderRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.GetOrderResponse:
        program_id = self.program()
        order_id = require_order_id(request.order_id)
        order = await run_read(
            self.redeem.ctx.uow, lambda uow: OrderRepository(uow.session, program_id).get(order_id)
        )
        return redeem_pb2.GetOrderResponse(order=order_to_proto(order))

    async def ListOrders(
        self, request: redeem_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.ListOrdersResponse:
        program_id = self.program()
        if not 0 <= request.page_size <= MAX_PAGE:
            raise InvalidArgument(f"page_size must be 0-{MAX_PAGE}", field="page_size")
        member_id = None
        if request.HasField("member"):
            member_id = await self.member_id(program_id, request.member)
        status = STATUS_FROM_PROTO.get(request.status) if request.status else None
        if request.status and status is None:
            raise InvalidArgument("unknown order status", field="status")
        orders, token = await run_read(
            self.redeem.ctx.uow,
            lambda uow: OrderRepository(uow.session).page(
                program_id,
                member_id=member_id,
                status=status,
                limit=request.page_size or DEFAULT_PAGE,
                token=request.page_token,
            ),
        )
        return redeem_pb2.ListOrdersResponse(
            orders=[order_to_proto(o) for o in orders], next_page_token=token
        )

    async def CancelOrder(
        self, request: redeem_pb2.CancelOrderRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.CancelOrderResponse:
        program_id = self.program()
        require_key(request.idempotency_key)
        order = await after_sale.cancel_order(
            self.redeem.runner, program_id, require_order_id(request.order_id), request.reason
        )
        return redeem_pb2.CancelOrderResponse(order=order_to_proto(order))

    async def UpdateFulfilment(
        self, request: redeem_pb2.UpdateFulfilmentRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.UpdateFulfilmentResponse:
        program_id = self.program()
        order_id = require_order_id(request.order_id)
        if request.status not in (
            redeem_pb2.FULFILMENT_STATUS_SHIPPED,
            redeem_pb2.FULFILMENT_STATUS_DELIVERED,
        ):
            raise InvalidArgument("status must be SHIPPED or DELIVERED", field="status")

        async def work(uow: object) -> redeem_pb2.UpdateFulfilmentResponse:
            order = await after_sale.update_fulfilment(
                self.redeem.runner,
                uow,  # type: ignore[arg-type]
                program_id,
                order_id,
                shipped=request.status == redeem_pb2.FULFILMENT_STATUS_SHIPPED,
                carrier=request.carrier.strip(),
                tracking_number=request.tracking_number.strip(),
            )
            return redeem_pb2.UpdateFulfilmentResponse(order=order_to_proto(order))

        return await run_idempotent(
            self.redeem.ctx.uow,
            program_id=program_id,
            scope="redeem.UpdateFulfilment",
            key=request.idempotency_key,
            request=request,
            response_type=redeem_pb2.UpdateFulfilmentResponse,
            work=work,
        )
