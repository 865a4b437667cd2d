"""Tier RPCs of AccountsService (SetManualTier) and the TierStatus other RPCs show."""

from __future__ import annotations

from datetime import datetime

import grpc

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument
from runtime.programs.spec import ProgramSpec
from services.accounts.adapters.event_mapping import timestamp
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.domain.commands import ManualTierMode, SetManualTier
from services.accounts.entrypoints.ledger_convert import optional_time
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer import tiers
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2

_MODES: dict[int, ManualTierMode] = {
    ledger_pb2.MANUAL_TIER_MODE_FLOOR: ManualTierMode.FLOOR,
    ledger_pb2.MANUAL_TIER_MODE_OVERRIDE: ManualTierMode.OVERRIDE,
}


def tier_status_proto(view: tiers.TierView) -> ledger_pb2.TierStatus:
    d = view.decision
    status = ledger_pb2.TierStatus(
        tier_id=d.tier_id,
        earned_tier_id=d.earned_tier_id,
        qualifying_points=d.qualifying_points,
        window_start=timestamp(d.window_start),
        next_tier_id=d.next_tier_id or "",
        points_to_next=d.points_to_next,
    )
    if view.manual is not None:
        status.manual.tier_id = view.manual.tier_id
        status.manual.mode = (
            ledger_pb2.MANUAL_TIER_MODE_OVERRIDE
            if view.manual.mode is ManualTierMode.OVERRIDE
            else ledger_pb2.MANUAL_TIER_MODE_FLOOR
        )
        if view.manual.until is not None:
            status.manual.until.CopyFrom(timestamp(view.manual.until))
    return status


async def tier_status(
    uow: UnitOfWork, program_id: str, account_id: str, spec: ProgramSpec
) -> ledger_pb2.TierStatus:
    """The member's tier now, for GetBalance's `tier` (read-only: nothing is stored)."""
    return tier_status_proto(await tiers.current_tier(uow.session, program_id, account_id, spec))


def manual_mode(value: int, spec: ProgramSpec) -> ManualTierMode:
    if value == ledger_pb2.MANUAL_TIER_MODE_UNSPECIFIED:
        return tiers.default_manual_mode(spec)
    if value not in _MODES:
        raise InvalidArgument(f"unknown mode {value}", field="mode")
    return _MODES[value]


class TierRpcs(RpcBase):
    async def SetManualTier(
        self, request: accounts_pb2.SetManualTierRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.SetManualTierResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.SetManualTierResponse:
            spec = self.ctx.programs.spec(program_id)
            account_id = await resolve_account_id(uow.session, program_id, request.member)
            until: datetime | None = optional_time(request.until, request.HasField("until"))
            view = await tiers.set_manual_tier(
                uow,
                program_id,
                SetManualTier(
                    account_id=account_id,
                    tier_id=request.tier_id,
                    mode=manual_mode(request.mode, spec),
                    reason=request.reason,
                    actor=actor,
                    until=until,
                ),
                spec,
            )
            return accounts_pb2.SetManualTierResponse(tier=tier_status_proto(view))

        return await self.mutate("SetManualTier", request, accounts_pb2.SetManualTierResponse, work)
