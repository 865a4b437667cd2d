"""Lottery RPCs: create, read, enter, draw, results."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc

from runtime.db.unit_of_work import UnitOfWork, run_read
from runtime.errors import InvalidArgument
from runtime.idempotency import require_key, run_idempotent
from services.redeem.adapters.lottery_repository import LotteryRepository
from services.redeem.adapters.messages import (
    address_from_proto,
    entry_to_proto,
    lottery_to_proto,
    winner_to_proto,
)
from services.redeem.adapters.orm import LotteryEntryRow, LotteryRow
from services.redeem.domain.lotteries import CreateLottery
from services.redeem.entrypoints.rpc_base import RpcBase
from services.redeem.service_layer import lotteries
from services.redeem.service_layer.saga_runner import new_owner
from tamaru.redeem.v1 import lotteries_pb2, redeem_pb2


def require_id(value: str, field: str) -> str:
    if not value or len(value) > 64:
        raise InvalidArgument(f"{field} is required (at most 64 characters)", field=field)
    return value


def require_time(request: redeem_pb2.CreateLotteryRequest, field: str) -> datetime:
    if not request.HasField(field):  # type: ignore[arg-type]
        raise InvalidArgument(f"{field} is required", field=field)
    value: datetime = getattr(request, field).ToDatetime(tzinfo=UTC)
    return value


class LotteryRpcs(RpcBase):
    async def CreateLottery(
        self, request: redeem_pb2.CreateLotteryRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.CreateLotteryResponse:
        program_id = self.program(open_only=True)
        lotteries.require_enabled(self.redeem.ctx.programs.spec(program_id))
        cmd = CreateLottery(
            title=request.title.strip(),
            prizes=tuple((p.sku, p.count) for p in request.prizes),
            entry_cost_points=request.entry_cost_points,
            max_entries_per_member=request.max_entries_per_member,
            opens_at=require_time(request, "entries_open_time"),
            closes_at=require_time(request, "entries_close_time"),
            draw_at=require_time(request, "draw_time"),
        )

        async def work(uow: UnitOfWork) -> redeem_pb2.CreateLotteryResponse:
            lottery = await lotteries.create_lottery(uow, program_id, request.idempotency_key, cmd)
            return redeem_pb2.CreateLotteryResponse(lottery=lottery)

        return await run_idempotent(
            self.redeem.ctx.uow,
            program_id=program_id,
            scope="redeem.CreateLottery",
            key=request.idempotency_key,
            request=request,
            response_type=redeem_pb2.CreateLotteryResponse,
            work=work,
        )

    async def GetLottery(
        self, request: redeem_pb2.GetLotteryRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.GetLotteryResponse:
        program_id = self.program()
        lottery_id = require_id(request.lottery_id, "lottery_id")

        async def look_up(uow: UnitOfWork) -> tuple[LotteryRow, dict[str, int]]:
            repo = LotteryRepository(uow.session, program_id)
            return await repo.get(lottery_id), await repo.entry_counts([lottery_id])

        row, counts = await run_read(self.redeem.ctx.uow, look_up)
        return redeem_pb2.GetLotteryResponse(
            lottery=lottery_to_proto(row, counts.get(lottery_id, 0))
        )

    async def ListLotteries(
        self, request: redeem_pb2.ListLotteriesRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.ListLotteriesResponse:
        program_id = self.program()
        status = {
            lotteries_pb2.LOTTERY_STATUS_UNSPECIFIED: None,
            lotteries_pb2.LOTTERY_STATUS_OPEN: "open",
            lotteries_pb2.LOTTERY_STATUS_DRAWN: "drawn",
        }.get(request.status, "?")
        if status == "?":
            raise InvalidArgument("unknown lottery status", field="status")

        async def look_up(uow: UnitOfWork) -> tuple[list[LotteryRow], dict[str, int]]:
            repo = LotteryRepository(uow.session, program_id)
            rows = await repo.all(status)
            return rows, await repo.entry_counts([r.lottery_id for r in rows])

        rows, counts = await run_read(self.redeem.ctx.uow, look_up)
        return redeem_pb2.ListLotteriesResponse(
            lotteries=[lottery_to_proto(r, counts.get(r.lottery_id, 0)) for r in rows]
        )

    async def EnterLottery(
        self, request: redeem_pb2.EnterLotteryRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.EnterLotteryResponse:
        program_id = self.program(open_only=True)
        lotteries.require_enabled(self.redeem.ctx.programs.spec(program_id))
        require_key(request.idempotency_key)
        lottery_id = require_id(request.lottery_id, "lottery_id")
        member_id = await self.member_id(program_id, request.member)
        address = (
            address_from_proto(request.shipping_address)
            if request.HasField("shipping_address")
            else None
        )

        async def work(uow: UnitOfWork) -> redeem_pb2.EnterLotteryResponse:
            entry, available = await lotteries.enter_lottery(
                uow,
                self.redeem.accounts(program_id),
                program_id,
                request.idempotency_key,
                lottery_id,
                member_id,
                address,
                lotteries.utcnow(),
            )
            return redeem_pb2.EnterLotteryResponse(entry=entry_to_proto(entry), available=available)

        return await run_idempotent(
            self.redeem.ctx.uow,
            program_id=program_id,
            scope="redeem.EnterLottery",
            key=request.idempotency_key,
            request=request,
            response_type=redeem_pb2.EnterLotteryResponse,
            work=work,
        )

    async def DrawLottery(
        self, request: redeem_pb2.DrawLotteryRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.DrawLotteryResponse:
        program_id = self.program()
        require_key(request.idempotency_key)
        lottery_id = require_id(request.lottery_id, "lottery_id")

        runner = self.redeem.runner
        owner = new_owner()

        async def work(uow: UnitOfWork) -> redeem_pb2.DrawLotteryResponse:
            lottery, won, _ = await lotteries.draw_lottery(
                uow, program_id, lottery_id, lotteries.utcnow(), owner, runner.options.lease
            )
            return redeem_pb2.DrawLotteryResponse(
                lottery=lottery, winners=[winner_to_proto(w) for w in won]
            )

        response = await run_idempotent(
            self.redeem.ctx.uow,
            program_id=program_id,
            scope="redeem.DrawLottery",
            key=request.idempotency_key,
            request=request,
            response_type=redeem_pb2.DrawLotteryResponse,
            work=work,
        )
        for winner in response.winners:
            # Ours to run (claim succeeds for the lease owner); on a replayed draw the orders
            # are done or driven by someone else, and this is a no-op.
            if await runner.claim(winner.prize_order_id, owner):
                await runner.drive(winner.prize_order_id, owner)
        return response

    async def ListLotteryResults(
        self, request: redeem_pb2.ListLotteryResultsRequest, context: grpc.aio.ServicerContext
    ) -> redeem_pb2.ListLotteryResultsResponse:
        program_id = self.program()
        lottery_id = require_id(request.lottery_id, "lottery_id")

        async def look_up(uow: UnitOfWork) -> tuple[LotteryRow, list[LotteryEntryRow]]:
            repo = LotteryRepository(uow.session, program_id)
            return await repo.get(lottery_id), await repo.entries(lottery_id)

        row, entries = await run_read(self.redeem.ctx.uow, look_up)
        winners = sorted((e for e in entries if e.rank is not None), key=lambda e: e.rank or 0)
        return redeem_pb2.ListLotteryResultsResponse(
            lottery=lottery_to_proto(row, len(entries)),
            entry_ids=[e.entry_id for e in entries],
            winners=[winner_to_proto(w) for w in winners],
        )
