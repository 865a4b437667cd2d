"""Merging two members of one person. The ledger moves the points (lots, holds, balance, one
merge transaction, `accounts_merged`); this moves the rest in the same transaction: the
identifiers and group memberships go to the survivor, and the absorbed member is left MERGED
with `merged_into` set."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import InvalidArgument
from services.accounts.adapters.orm import IdentifierRow, MemberGroupRow, MemberRow
from services.accounts.domain.commands import MergeAccounts
from services.accounts.domain.events import AccountsMerged
from services.accounts.domain.members import MAX_REASON, check_text
from services.accounts.domain.model import AccountStatus
from services.accounts.domain.plan import LedgerPlan
from services.accounts.service_layer.ledger import Ledger


async def merge_members(
    uow: UnitOfWork, ledger: Ledger, cmd: MergeAccounts
) -> tuple[LedgerPlan, AccountsMerged]:
    if cmd.survivor_account_id == cmd.absorbed_account_id:
        raise InvalidArgument(
            "a member cannot be merged into itself", reason="SAME_ACCOUNT", field="absorbed"
        )
    check_text(cmd.reason, "reason", MAX_REASON)
    program_id = ledger.program_id
    survivor, absorbed = cmd.survivor_account_id, cmd.absorbed_account_id
    plan = await ledger.merge(uow, cmd)  # locks both accounts; refuses closed/merged ones
    s = uow.session
    # A moved identifier cannot stay primary: the survivor may have a primary of its kind.
    await s.execute(
        update(IdentifierRow)
        .where(IdentifierRow.program_id == program_id, IdentifierRow.member_id == absorbed)
        .values(member_id=survivor, is_primary=False)
    )
    await s.execute(
        insert(MemberGroupRow)
        .from_select(
            ["member_id", "group_id", "program_id"],
            select(literal(survivor), MemberGroupRow.group_id, MemberGroupRow.program_id).where(
                MemberGroupRow.program_id == program_id, MemberGroupRow.member_id == absorbed
            ),
        )
        .on_conflict_do_nothing()
    )
    await s.execute(
        delete(MemberGroupRow).where(
            MemberGroupRow.program_id == program_id, MemberGroupRow.member_id == absorbed
        )
    )
    now = datetime.now(UTC)
    await s.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == absorbed)
        .values(
            status=AccountStatus.MERGED.value, merged_into=survivor, group_id=None, updated_at=now
        )
    )
    first_group = (
        select(func.min(MemberGroupRow.group_id))
        .where(MemberGroupRow.program_id == program_id, MemberGroupRow.member_id == survivor)
        .scalar_subquery()
    )
    await s.execute(
        update(MemberRow)
        .where(MemberRow.program_id == program_id, MemberRow.member_id == survivor)
        .values(group_id=func.coalesce(MemberRow.group_id, first_group), updated_at=now)
    )
    return plan, _merged_event(plan)


def _merged_event(plan: LedgerPlan) -> AccountsMerged:
    event = plan.events[0]
    assert isinstance(event, AccountsMerged)
    return event
