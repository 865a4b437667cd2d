"""NATS commands for other services (redeem): `tamaru.cmd.catalog.<Method>`.

Each handler: request -> domain command (checked) -> service layer in one transaction, run once
per idempotency key -> response. The program comes from the command's header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.errors import InvalidArgument
from runtime.messaging.commands import CommandContext, CommandServer
from runtime.service import ServiceContext
from services.catalog.adapters.messages import quote_to_proto, reservation_to_proto
from services.catalog.domain.recommendations import validate_redemption
from services.catalog.domain.reservations import (
    LineRequest,
    require_id,
    validate_reason,
    validate_reserve,
)
from services.catalog.service_layer import codes, recommendations, reservations, shipping
from services.catalog.service_layer.idempotent import run_once
from services.catalog.service_layer.programs import catalog_view, shipping_rules
from tamaru.catalog.v1 import commands_pb2, shipping_pb2

Resp = TypeVar("Resp", bound=Message)


def idempotency_key(ctx: CommandContext, request: Message) -> str:
    """The key in the request, else the one in the header; both given must agree."""
    in_request: str = getattr(request, "idempotency_key", "")
    if in_request and ctx.idempotency_key and in_request != ctx.idempotency_key:
        raise InvalidArgument(
            "idempotency_key differs from the Tamaru-Idempotency-Key header",
            field="idempotency_key",
        )
    return in_request or ctx.idempotency_key


def lines_of(
    request: commands_pb2.ReserveStockRequest | shipping_pb2.QuoteShippingRequest,
) -> list[LineRequest]:
    return [LineRequest(line.sku, line.quantity) for line in request.lines]


def now() -> datetime:
    return datetime.now(UTC)


class CatalogCommands:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def register(self, server: CommandServer) -> None:
        server.register("ReserveStock", commands_pb2.ReserveStockRequest, self.reserve_stock)
        server.register(
            "CommitReservation", commands_pb2.CommitReservationRequest, self.commit_reservation
        )
        server.register(
            "ReleaseReservation", commands_pb2.ReleaseReservationRequest, self.release_reservation
        )
        server.register("ReturnStock", commands_pb2.ReturnStockRequest, self.return_stock)
        server.register("QuoteShipping", shipping_pb2.QuoteShippingRequest, self.quote_shipping)
        server.register("IssueCodes", commands_pb2.IssueCodesRequest, self.issue_codes)
        server.register(
            "RecordRedemption", commands_pb2.RecordRedemptionRequest, self.record_redemption
        )

    async def _once(
        self,
        ctx: CommandContext,
        method: str,
        request: Message,
        response_type: type[Resp],
        action: Callable[[UnitOfWork], Awaitable[Resp]],
    ) -> Resp:
        key = idempotency_key(ctx, request)
        return await run_once(
            self._ctx.uow, ctx.program_id, f"catalog.{method}", key, request, response_type, action
        )

    async def reserve_stock(
        self, ctx: CommandContext, request: commands_pb2.ReserveStockRequest
    ) -> commands_pb2.ReserveStockResponse:
        view = catalog_view(ctx.program_id, self._ctx.programs.require_open(ctx.program_id))
        cmd = validate_reserve(
            request.order_id, request.member_id, lines_of(request), request.ttl_seconds
        )

        async def reserve(uow: UnitOfWork) -> commands_pb2.ReserveStockResponse:
            reservation = await reservations.reserve_stock(uow, view, cmd, now())
            return commands_pb2.ReserveStockResponse(reservation=reservation_to_proto(reservation))

        return await self._once(
            ctx, "ReserveStock", request, commands_pb2.ReserveStockResponse, reserve
        )

    async def commit_reservation(
        self, ctx: CommandContext, request: commands_pb2.CommitReservationRequest
    ) -> commands_pb2.CommitReservationResponse:
        self._ctx.programs.get(ctx.program_id)
        reservation_id = require_id(request.reservation_id, "reservation_id")

        async def commit(uow: UnitOfWork) -> commands_pb2.CommitReservationResponse:
            reservation = await reservations.commit_reservation(
                uow, ctx.program_id, reservation_id, now()
            )
            return commands_pb2.CommitReservationResponse(
                reservation=reservation_to_proto(reservation)
            )

        return await self._once(
            ctx, "CommitReservation", request, commands_pb2.CommitReservationResponse, commit
        )

    async def release_reservation(
        self, ctx: CommandContext, request: commands_pb2.ReleaseReservationRequest
    ) -> commands_pb2.ReleaseReservationResponse:
        self._ctx.programs.get(ctx.program_id)
        reservation_id = require_id(request.reservation_id, "reservation_id")
        reason = validate_reason(request.reason)

        async def release(uow: UnitOfWork) -> commands_pb2.ReleaseReservationResponse:
            reservation = await reservations.release_reservation(
                uow, ctx.program_id, reservation_id, reason, now()
            )
            return commands_pb2.ReleaseReservationResponse(
                reservation=reservation_to_proto(reservation)
            )

        return await self._once(
            ctx, "ReleaseReservation", request, commands_pb2.ReleaseReservationResponse, release
        )

    async def return_stock(
        self, ctx: CommandContext, request: commands_pb2.ReturnStockRequest
    ) -> commands_pb2.ReturnStockResponse:
        self._ctx.programs.get(ctx.program_id)
        reservation_id = require_id(request.reservation_id, "reservation_id")
        reason = validate_reason(request.reason)

        async def give_back(uow: UnitOfWork) -> commands_pb2.ReturnStockResponse:
            reservation = await reservations.return_stock(
                uow, ctx.program_id, reservation_id, reason, now()
            )
            return commands_pb2.ReturnStockResponse(reservation=reservation_to_proto(reservation))

        return await self._once(
            ctx, "ReturnStock", request, commands_pb2.ReturnStockResponse, give_back
        )

    async def quote_shipping(
        self, ctx: CommandContext, request: shipping_pb2.QuoteShippingRequest
    ) -> shipping_pb2.QuoteShippingResponse:
        spec = self._ctx.programs.spec(ctx.program_id)
        quote = await run_read(
            self._ctx.uow,
            lambda uow: shipping.quote_shipping(
                uow.session,
                catalog_view(ctx.program_id, spec),
                shipping_rules(spec),
                lines_of(request),
                request.prefecture,
                request.postal_code,
            ),
        )
        return quote_to_proto(quote)

    async def issue_codes(
        self, ctx: CommandContext, request: commands_pb2.IssueCodesRequest
    ) -> commands_pb2.IssueCodesResponse:
        self._ctx.programs.get(ctx.program_id)
        reservation_id = require_id(request.reservation_id, "reservation_id")

        async def issue(uow: UnitOfWork) -> commands_pb2.IssueCodesResponse:
            issued = await codes.issue_codes(uow, ctx.program_id, reservation_id, now())
            return commands_pb2.IssueCodesResponse(
                reservation_id=reservation_id,
                codes=[commands_pb2.IssuedCode(sku=sku, code=code) for sku, code in issued],
            )

        return await self._once(ctx, "IssueCodes", request, commands_pb2.IssueCodesResponse, issue)

    async def record_redemption(
        self, ctx: CommandContext, request: commands_pb2.RecordRedemptionRequest
    ) -> commands_pb2.RecordRedemptionResponse:
        self._ctx.programs.get(ctx.program_id)
        cmd = validate_redemption(
            request.member_id, request.group_id, request.tier_id, request.sku, request.quantity
        )

        async def record(uow: UnitOfWork) -> commands_pb2.RecordRedemptionResponse:
            await recommendations.record_redemption(uow, ctx.program_id, cmd)
            return commands_pb2.RecordRedemptionResponse(recorded=True)

        return await self._once(
            ctx, "RecordRedemption", request, commands_pb2.RecordRedemptionResponse, record
        )
