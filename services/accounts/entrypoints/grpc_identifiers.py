"""Identifier and merge RPCs of AccountsService: link, unlink, resolve, merge members."""

from __future__ import annotations

import grpc
from sqlalchemy import select

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import NotFound
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.adapters.member_queries import load_view
from services.accounts.adapters.orm import IdentifierRow, MemberRow
from services.accounts.domain.commands import MergeAccounts
from services.accounts.domain.members import check_identifier_value
from services.accounts.entrypoints.member_convert import identifier_kind, member_proto
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer import identifiers, merges, tiers
from services.accounts.service_layer.members import status_proto
from tamaru.accounts.v1 import accounts_pb2


class IdentifierRpcs(RpcBase):
    async def LinkIdentifier(
        self, request: accounts_pb2.LinkIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.LinkIdentifierResponse:
        kind = identifier_kind(request.identifier.type, "identifier.type")

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.LinkIdentifierResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            await identifiers.link_identifier(
                uow,
                program_id,
                member_id,
                kind,
                request.identifier.value,
                primary=request.primary,
            )
            view = await load_view(uow.session, program_id, member_id)
            return accounts_pb2.LinkIdentifierResponse(member=member_proto(view))

        return await self.mutate(
            "LinkIdentifier", request, accounts_pb2.LinkIdentifierResponse, work
        )

    async def UnlinkIdentifier(
        self, request: accounts_pb2.UnlinkIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.UnlinkIdentifierResponse:
        kind = identifier_kind(request.identifier.type, "identifier.type")
        check_identifier_value(request.identifier.value, "identifier.value")

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.UnlinkIdentifierResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            await identifiers.unlink_identifier(
                uow, program_id, member_id, kind, request.identifier.value
            )
            view = await load_view(uow.session, program_id, member_id)
            return accounts_pb2.UnlinkIdentifierResponse(member=member_proto(view))

        return await self.mutate(
            "UnlinkIdentifier", request, accounts_pb2.UnlinkIdentifierResponse, work
        )

    async def ResolveIdentifier(
        self, request: accounts_pb2.ResolveIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ResolveIdentifierResponse:
        kind = identifier_kind(request.identifier.type, "identifier.type")
        value = check_identifier_value(request.identifier.value, "identifier.value")

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ResolveIdentifierResponse:
            found = (
                await uow.session.execute(
                    select(MemberRow.member_id, MemberRow.external_ref, MemberRow.status)
                    .join(IdentifierRow, IdentifierRow.member_id == MemberRow.member_id)
                    .where(
                        IdentifierRow.program_id == program_id,
                        IdentifierRow.kind == kind,
                        IdentifierRow.value == value,
                        MemberRow.program_id == program_id,
                    )
                )
            ).one_or_none()
            if found is None:
                raise NotFound(
                    f"no member has {kind} {value!r} in this program",
                    reason="MEMBER_NOT_FOUND",
                    field="identifier",
                )
            return accounts_pb2.ResolveIdentifierResponse(
                account_id=found.member_id,
                external_ref=found.external_ref,
                status=status_proto(found.status),
            )

        return await self.read(work)

    async def MergeMembers(
        self, request: accounts_pb2.MergeMembersRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.MergeMembersResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.MergeMembersResponse:
            s = uow.session
            survivor = await resolve_account_id(s, program_id, request.survivor, field="survivor")
            absorbed = await resolve_account_id(s, program_id, request.absorbed, field="absorbed")
            plan, merged = await merges.merge_members(
                uow,
                self.ledger(program_id),
                MergeAccounts(
                    survivor_account_id=survivor,
                    absorbed_account_id=absorbed,
                    reason=request.reason,
                    actor=actor,
                    idempotency_key=request.idempotency_key,
                ),
            )
            # The absorbed member's earnings now count for the survivor's tier.
            await tiers.refresh_tier(uow, program_id, survivor, self.ctx.programs.spec(program_id))
            view = await load_view(s, program_id, survivor)
            return accounts_pb2.MergeMembersResponse(
                survivor=member_proto(view),
                transaction_id=plan.transaction.tx_id,
                moved_available=merged.moved_available,
                moved_held=merged.moved_held,
            )

        return await self.mutate("MergeMembers", request, accounts_pb2.MergeMembersResponse, work)
