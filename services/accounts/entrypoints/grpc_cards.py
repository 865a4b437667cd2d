"""Membership-card RPCs of AccountsService: issue a signed short-lived token for a QR code or
barcode, and resolve one (as a POS does) to the member's account."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from sqlalchemy import select

from runtime.db.unit_of_work import UnitOfWork
from services.accounts.adapters.event_mapping import timestamp
from services.accounts.adapters.member_lookup import resolve_account_id
from services.accounts.adapters.member_queries import member_not_found
from services.accounts.adapters.orm import MemberRow
from services.accounts.domain.card_tokens import (
    card_ttl,
    issue_card_token,
    program_card_key,
    read_card_token,
)
from services.accounts.domain.members import ensure_open
from services.accounts.domain.model import AccountStatus
from services.accounts.entrypoints.rpc_base import RpcBase
from services.accounts.service_layer.members import status_proto
from tamaru.accounts.v1 import accounts_pb2


class CardRpcs(RpcBase):
    # Set by the servicer at start (from TAMARU_CARD_SIGNING_KEY, adapters/card_keys.py).
    card_signing_key: bytes

    async def IssueCardToken(
        self, request: accounts_pb2.IssueCardTokenRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.IssueCardTokenResponse:
        ttl = card_ttl(request.ttl_seconds)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.IssueCardTokenResponse:
            member_id = await resolve_account_id(uow.session, program_id, request.member)
            status = await uow.session.scalar(
                select(MemberRow.status).where(
                    MemberRow.program_id == program_id, MemberRow.member_id == member_id
                )
            )
            if status is None:
                raise member_not_found(member_id)
            ensure_open(AccountStatus(status))
            token, expires_at = issue_card_token(
                program_card_key(self.card_signing_key, program_id),
                program_id,
                member_id,
                datetime.now(UTC),
                ttl,
            )
            return accounts_pb2.IssueCardTokenResponse(
                token=token, expires_at=timestamp(expires_at)
            )

        return await self.mutate(
            "IssueCardToken", request, accounts_pb2.IssueCardTokenResponse, work
        )

    async def ResolveCardToken(
        self, request: accounts_pb2.ResolveCardTokenRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ResolveCardTokenResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ResolveCardTokenResponse:
            claims = read_card_token(
                request.token,
                program_id,
                program_card_key(self.card_signing_key, program_id),
                datetime.now(UTC),
            )
            row = (
                await uow.session.execute(
                    select(MemberRow.external_ref, MemberRow.status).where(
                        MemberRow.program_id == program_id,
                        MemberRow.member_id == claims.account_id,
                    )
                )
            ).one_or_none()
            if row is None:
                raise member_not_found(claims.account_id, "token")
            return accounts_pb2.ResolveCardTokenResponse(
                account_id=claims.account_id,
                external_ref=row.external_ref,
                status=status_proto(row.status),
                expires_at=timestamp(claims.expires_at),
            )

        return await self.read(work)
