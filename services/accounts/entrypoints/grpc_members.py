"""Member RPCs of AccountsService: enrol, read, update, suspend / reactivate / close, list
and search. Thin: proto -> service-layer call -> proto."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import grpc

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import InvalidArgument
from services.accounts.adapters.group_repository import get_group
from services.accounts.adapters.ledger_queries import page_size
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.adapters.member_queries import (
    MemberFilter,
    load_view,
    load_views,
    member_page,
)
from services.accounts.domain.balances import balance_of
from services.accounts.domain.members import MAX_NAME, StatusAction, check_text
from services.accounts.entrypoints.grpc_tiers import tier_status_proto
from services.accounts.entrypoints.ledger_convert import balance_proto
from services.accounts.entrypoints.member_convert import (
    identifier_kind,
    mask_paths,
    member_proto,
    status_filter,
)
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer import members, tiers
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.common.v1 import common_pb2

UPDATABLE = (
    "display_name",
    "email",
    "phone",
    "birth_date",
    "attributes",
    "group_ids",
    "external_ref",
)


async def member_balance(uow: UnitOfWork, program_id: str, account_id: str) -> ledger_pb2.Balance:
    repo = LedgerRepository(uow.session, program_id)
    account = await repo.get_account(account_id)
    lots = await repo.live_lots(account_id)
    holds = await repo.open_holds(account_id)
    return balance_proto(balance_of(lots, holds, datetime.now(UTC), deficit=account.deficit))


def member_changes(request: accounts_pb2.UpdateMemberRequest) -> members.MemberChanges:
    paths = mask_paths(request.update_mask, UPDATABLE)
    c = request.changes

    def pick(name: str) -> str | None:
        return str(getattr(c, name)) if name in paths else None

    return members.MemberChanges(
        external_ref=pick("external_ref"),
        display_name=pick("display_name"),
        email=pick("email"),
        phone=pick("phone"),
        birth_date=pick("birth_date"),
        attributes=dict(c.attributes) if "attributes" in paths else None,
        group_ids=tuple(c.group_ids) if "group_ids" in paths else None,
    )


async def page_of_members(
    rpc: RpcBase, where: MemberFilter, page: common_pb2.PageRequest, *, group_field: str
) -> tuple[list[members_pb2.Member], common_pb2.PageResponse]:
    """One page of members matching `where` (an unknown group is NOT_FOUND on `group_field`)."""
    size = page_size(page.page_size)

    async def work(
        uow: UnitOfWork, program_id: str
    ) -> tuple[list[members_pb2.Member], common_pb2.PageResponse]:
        query = where
        if query.group_id:
            if len(query.group_id) > 36:
                raise InvalidArgument(f"{group_field} is not a group id", field=group_field)
            group = await get_group(uow.session, program_id, query.group_id, field=group_field)
            query = replace(query, group_path=group.path)
        ids, token = await member_page(
            uow.session, program_id, query, size=size, token=page.page_token
        )
        views = await load_views(uow.session, program_id, ids)
        return [member_proto(v) for v in views], common_pb2.PageResponse(next_page_token=token)

    return await rpc.read(work)


class MemberRpcs(RpcBase):
    async def EnrolMember(
        self, request: accounts_pb2.EnrolMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.EnrolMemberResponse:
        cmd = members.EnrolMember(
            external_ref=request.external_ref,
            display_name=request.display_name,
            email=request.email,
            phone=request.phone,
            birth_date=request.birth_date,
            attributes=dict(request.attributes),
            identifiers=tuple(
                (identifier_kind(i.type, f"identifiers[{n}].type"), i.value)
                for n, i in enumerate(request.identifiers)
            ),
            group_ids=tuple(request.group_ids),
        )

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.EnrolMemberResponse:
            member_id = await members.enrol_member(uow, program_id, cmd)
            view = await load_view(uow.session, program_id, member_id)
            return accounts_pb2.EnrolMemberResponse(member=member_proto(view))

        return await self.mutate("EnrolMember", request, accounts_pb2.EnrolMemberResponse, work)

    async def GetMember(
        self, request: accounts_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.GetMemberResponse:
        views: list[tiers.TierView] = []

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.GetMemberResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            view = await load_view(uow.session, program_id, member_id)
            spec = self.ctx.programs.spec(program_id)
            tier = await tiers.decide(uow.session, program_id, view.row, spec, datetime.now(UTC))
            views.append(tier)
            return accounts_pb2.GetMemberResponse(
                member=member_proto(view, tier_status_proto(tier)),
                balance=await member_balance(uow, program_id, member_id),
            )

        reply = await self.read(work)
        await self._store_changed_tier(reply.member, views[0])
        return reply

    async def _store_changed_tier(self, member: members_pb2.Member, view: tiers.TierView) -> None:
        """A read found the stored tier out of date (the window moved, points arrived): store
        it and announce tier_changed, unless the program is closed to changes."""
        if view.decision.tier_id == view.stored_tier_id:
            return
        if member.status == ledger_pb2.ACCOUNT_STATUS_MERGED:
            return
        program_id = self.caller().program_id
        known = self.ctx.programs.get(program_id)
        if known.closed:
            return
        await run_in_transaction(
            self.ctx.uow,
            lambda uow: tiers.refresh_tier(uow, program_id, member.account_id, known.spec),
        )

    async def UpdateMember(
        self, request: accounts_pb2.UpdateMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.UpdateMemberResponse:
        changes = member_changes(request)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.UpdateMemberResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            await members.update_member(uow, program_id, member_id, changes)
            view = await load_view(uow.session, program_id, member_id)
            return accounts_pb2.UpdateMemberResponse(member=member_proto(view))

        return await self.mutate("UpdateMember", request, accounts_pb2.UpdateMemberResponse, work)

    async def _change_status(
        self,
        scope: str,
        request: accounts_pb2.SuspendMemberRequest
        | accounts_pb2.ReactivateMemberRequest
        | accounts_pb2.CloseMemberRequest,
        action: StatusAction,
    ) -> members_pb2.Member:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.SuspendMemberResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            await members.change_status(
                uow, program_id, member_id, action, reason=request.reason, actor=actor
            )
            view = await load_view(uow.session, program_id, member_id)
            # One reply type for the three (same shape) so they share this code.
            return accounts_pb2.SuspendMemberResponse(member=member_proto(view))

        reply = await self.mutate(scope, request, accounts_pb2.SuspendMemberResponse, work)
        return reply.member

    async def SuspendMember(
        self, request: accounts_pb2.SuspendMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.SuspendMemberResponse:
        member = await self._change_status("SuspendMember", request, StatusAction.SUSPEND)
        return accounts_pb2.SuspendMemberResponse(member=member)

    async def ReactivateMember(
        self, request: accounts_pb2.ReactivateMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ReactivateMemberResponse:
        member = await self._change_status("ReactivateMember", request, StatusAction.REACTIVATE)
        return accounts_pb2.ReactivateMemberResponse(member=member)

    async def CloseMember(
        self, request: accounts_pb2.CloseMemberRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.CloseMemberResponse:
        member = await self._change_status("CloseMember", request, StatusAction.CLOSE)
        return accounts_pb2.CloseMemberResponse(member=member)

    async def ListMembers(
        self, request: accounts_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListMembersResponse:
        check_text(request.tier_id, "tier_id", 64)
        where = MemberFilter(
            group_id=request.group_id,
            include_subgroups=request.include_subgroups,
            status=status_filter(request.status),
            tier_id=request.tier_id,
        )
        found, page = await page_of_members(self, where, request.page, group_field="group_id")
        return accounts_pb2.ListMembersResponse(members=found, page=page)

    async def SearchMembers(
        self, request: accounts_pb2.SearchMembersRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.SearchMembersResponse:
        query = check_text(request.query.strip(), "query", MAX_NAME, required=True)
        found, page = await page_of_members(
            self, MemberFilter(text=query), request.page, group_field=""
        )
        return accounts_pb2.SearchMembersResponse(members=found, page=page)
