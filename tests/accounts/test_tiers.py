"""Tiers: computed from credited points in the window (less reversals), stored on the member
with tier_changed; manual tiers as floor or override; the batch refresh for the sweeper."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext

from runtime.service import ServiceApp
from services.accounts.entrypoints.grpc_tiers import tier_status
from services.accounts.entrypoints.tier_worker import TierRefresher
from services.accounts.service_layer.tiers import refresh_tiers_batch
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, key, member, outbox_events, refused
from tests.support.services import TestProgram, create_program

LEVELS = [
    {"id": "bronze", "name": "Bronze", "minPoints": 0},
    {"id": "silver", "name": "Silver", "minPoints": 100},
    {"id": "gold", "name": "Gold", "minPoints": 500},
]


@pytest_asyncio.fixture(loop_scope="session")
async def tiered(
    accounts_app: ServiceApp, js: JetStreamContext, channel: grpc.aio.Channel
) -> Accounts:
    program = await create_program(
        js, ["accounts"], tiers={"basis": "rolling12Months", "levels": LEVELS}
    )
    return Accounts(channel, program)


async def tier_of(accounts: Accounts, account_id: str) -> ledger_pb2.TierStatus:
    tier: ledger_pb2.TierStatus = (await member(accounts, account_id)).member.tier
    return tier


async def set_manual(
    accounts: Accounts, account_id: str, tier_id: str, mode: int = 0, **fields: object
) -> ledger_pb2.TierStatus:
    reply = await accounts.call(
        "SetManualTier",
        accounts_pb2.SetManualTierRequest(
            idempotency_key=key(),
            member=by_id(account_id),
            tier_id=tier_id,
            mode=mode,  # type: ignore[arg-type]
            reason=str(fields.get("reason", "support decision")),
        ),
    )
    status: ledger_pb2.TierStatus = reply.tier
    return status


async def listed_with_tier(accounts: Accounts, tier_id: str) -> list[str]:
    reply = await accounts.call("ListMembers", accounts_pb2.ListMembersRequest(tier_id=tier_id))
    return [m.account_id for m in reply.members]


async def test_tier_follows_credited_points_less_reversals(
    tiered: Accounts, accounts_app: ServiceApp
) -> None:
    account_id = await tiered.enrol("t-1")
    assert (await tier_of(tiered, account_id)).tier_id == "bronze"
    credit = await tiered.credit(account_id, 150)
    await tiered.debit(account_id, 120)  # spending does not lower the tier
    tier = await tier_of(tiered, account_id)
    assert (tier.tier_id, tier.earned_tier_id, tier.qualifying_points) == ("silver", "silver", 150)
    assert (tier.next_tier_id, tier.points_to_next) == ("gold", 350)
    assert await listed_with_tier(tiered, "silver") == [account_id]  # stored by the read

    await tiered.call(
        "ReverseTransaction",
        accounts_pb2.ReverseTransactionRequest(
            idempotency_key=key(),
            transaction_id=credit.result.transaction_id,
            amount=30,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="return-1"),
            reason="returned goods",
        ),
    )
    tier = await tier_of(tiered, account_id)
    assert (tier.tier_id, tier.qualifying_points) == ("silver", 120)

    changes = await outbox_events(accounts_app, tiered.program.program_id, "tier_changed")
    assert [(e.old_tier_id, e.new_tier_id, e.qualifying_points) for e in changes] == [
        ("", "bronze", 0),
        ("bronze", "silver", 150),
    ]
    assert changes[1].member_external_ref == "t-1"


async def test_manual_tier_floor_override_and_clear(tiered: Accounts) -> None:
    account_id = await tiered.enrol("t-2")
    await tiered.credit(account_id, 200)  # silver by points
    floor = await set_manual(tiered, account_id, "gold", ledger_pb2.MANUAL_TIER_MODE_FLOOR)
    assert (floor.tier_id, floor.earned_tier_id) == ("gold", "silver")
    assert floor.manual.tier_id == "gold"
    low_floor = await set_manual(tiered, account_id, "bronze", ledger_pb2.MANUAL_TIER_MODE_FLOOR)
    assert low_floor.tier_id == "silver"  # a floor below the earned tier changes nothing
    override = await set_manual(tiered, account_id, "bronze", ledger_pb2.MANUAL_TIER_MODE_OVERRIDE)
    assert override.tier_id == "bronze"
    cleared = await set_manual(tiered, account_id, "")
    assert (cleared.tier_id, cleared.manual.tier_id) == ("silver", "")
    assert (await tier_of(tiered, account_id)).tier_id == "silver"


async def test_bad_manual_tiers_are_refused_and_change_nothing(tiered: Accounts) -> None:
    account_id = await tiered.enrol("t-3")
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    await refused(
        set_manual(tiered, account_id, "platinum"), invalid, field="tier_id", reason="UNKNOWN_TIER"
    )
    await refused(set_manual(tiered, account_id, "gold", reason=""), invalid, field="reason")
    past = Timestamp()
    past.FromDatetime(datetime.now(UTC) - timedelta(days=1))
    await refused(
        tiered.call(
            "SetManualTier",
            accounts_pb2.SetManualTierRequest(
                idempotency_key=key(),
                member=by_id(account_id),
                tier_id="gold",
                reason="r",
                until=past,
            ),
        ),
        invalid,
        field="until",
    )
    await refused(set_manual(tiered, account_id, "gold", 7), invalid, field="mode")
    assert (await tier_of(tiered, account_id)).tier_id == "bronze"


async def test_merge_counts_the_absorbed_members_points(tiered: Accounts) -> None:
    survivor = await tiered.enrol("t-keep")
    absorbed = await tiered.enrol("t-gone")
    await tiered.credit(survivor, 300)
    await tiered.credit(absorbed, 250)
    reply = await tiered.call(
        "MergeMembers",
        accounts_pb2.MergeMembersRequest(
            idempotency_key=key(), survivor=by_id(survivor), absorbed=by_id(absorbed)
        ),
    )
    assert reply.survivor.tier.tier_id == "gold"
    tier = await tier_of(tiered, survivor)
    assert (tier.tier_id, tier.qualifying_points) == ("gold", 550)


async def test_batch_refresh_and_tier_status_for_get_balance(
    tiered: Accounts, accounts_app: ServiceApp
) -> None:
    assert accounts_app.ctx is not None
    ids = [await tiered.enrol(f"b-{i}") for i in range(3)]
    await tiered.credit(ids[0], 600)
    await tiered.credit(ids[1], 100)
    assert await listed_with_tier(tiered, "gold") == []  # nothing read them yet
    program_id = tiered.program.program_id
    spec = accounts_app.ctx.programs.spec(program_id)
    after = ""
    while True:
        async with accounts_app.ctx.uow() as uow:
            after = await refresh_tiers_batch(uow, program_id, spec, after=after, limit=2)
            await uow.commit()
        if not after:
            break
    assert await listed_with_tier(tiered, "gold") == [ids[0]]
    assert await listed_with_tier(tiered, "silver") == [ids[1]]
    assert await listed_with_tier(tiered, "bronze") == [ids[2]]

    async with accounts_app.ctx.uow() as uow:
        status = await tier_status(uow, program_id, ids[1], spec)
    assert (status.tier_id, status.qualifying_points, status.next_tier_id) == (
        "silver",
        100,
        "gold",
    )


async def test_calendar_year_window_starts_on_january_first_in_the_program_zone(
    accounts_app: ServiceApp, js: JetStreamContext, channel: grpc.aio.Channel
) -> None:
    program: TestProgram = await create_program(
        js, ["accounts"], tiers={"basis": "calendarYear", "levels": LEVELS}
    )
    accounts = Accounts(channel, program)
    account_id = await accounts.enrol("cal-1")
    start = (await tier_of(accounts, account_id)).window_start.ToDatetime(tzinfo=UTC)
    # Midnight of January 1 in Asia/Tokyo is 15:00 UTC on December 31.
    assert (start.month, start.day, start.hour) == (12, 31, 15)
    assert start.year == (datetime.now(UTC) + timedelta(hours=9)).year - 1


async def test_tier_refresher_stores_every_members_tier(
    tiered: Accounts, accounts_app: ServiceApp
) -> None:
    """The periodic worker recomputes stored tiers without anyone reading the member."""
    assert accounts_app.ctx is not None
    silver = await tiered.enrol()
    await tiered.credit(silver, 150)
    spec = accounts_app.ctx.programs.spec(tiered.program.program_id)
    refresher = TierRefresher(accounts_app.ctx.uow, lambda: [(tiered.program.program_id, spec)])
    await refresher.refresh_all()
    assert silver in await listed_with_tier(tiered, "silver")


def test_the_tier_refresher_first_runs_soon_after_start_not_a_whole_interval_later() -> None:
    """A service deployed more often than hourly must still demote members."""
    refresher = TierRefresher(lambda: None, lambda: [])  # type: ignore[arg-type,return-value]
    assert refresher._first_delay <= 600 < refresher._interval
