"""Ledger RPCs of AccountsService: credit, batch credit, debit, adjust, balance, history,
expiring soon, reverse, transfer, verify. Thin: proto -> domain command -> Ledger -> proto."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork
from runtime.group_commit import GroupCommit
from runtime.service import ServiceContext
from services.accounts.adapters.event_mapping import to_proto
from services.accounts.adapters.ledger_queries import history_page, page_size, verify_program
from services.accounts.adapters.ledger_repository import LedgerRepository
from services.accounts.adapters.member_lookup import member_checked, resolve_account_id
from services.accounts.domain.balances import expiring_within
from services.accounts.domain.commands import AdjustPoints
from services.accounts.domain.model import Source, SourceType
from services.accounts.domain.plan import LedgerPlan
from services.accounts.entrypoints import grouped_credits, grouped_debits
from services.accounts.entrypoints.batch_credit import check_size, credit_entries
from services.accounts.entrypoints.grouped_calls import LedgerCall
from services.accounts.entrypoints.ledger_convert import (
    balance_proto,
    credit_command,
    credit_result,
    debit_command,
    debit_result,
    expiring_proto,
    kind_from,
    optional_time,
    reverse_command,
    transaction_proto,
    transfer_command,
)
from services.accounts.entrypoints.rpc_base import RpcBase
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.common.v1 import common_pb2

R = TypeVar("R", bound=Message)


class LedgerRpcs(RpcBase):
    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        # Credits queued behind one in flight commit together (grouped_credits.py).
        self.credits = grouped_credits.credit_group_commit(
            ctx.uow, self.ledger, grouped_credits.RPC_REPLIES
        )
        self.debits = grouped_debits.debit_group_commit(
            ctx.uow, self.ledger, grouped_debits.RPC_REPLIES
        )

    async def _grouped(
        self,
        commit: GroupCommit[str, LedgerCall, R],
        scope: str,
        request: Any,
        response_type: type[R],
        actor: str,
        work: Callable[[UnitOfWork, str], Awaitable[R]],
    ) -> R:
        """`mutate`, alone or in a batch with the program's requests of the same kind that
        arrive meanwhile (group commit)."""

        async def alone() -> R:
            return await self.mutate(scope, request, response_type, work)

        program_id = self.caller().program_id
        self.ctx.programs.require_open(program_id)
        call = LedgerCall(request, actor, request.idempotency_key)
        return await commit.submit(program_id, call, alone)

    async def _balance(
        self, uow: UnitOfWork, program_id: str, account_id: str, plan: LedgerPlan | None = None
    ) -> ledger_pb2.Balance:
        """The balance after `plan`: the plan already holds the account as it left it (its
        held points and deficit), so only the lots are read."""
        updated = plan.account_updates if plan is not None else ()
        known = next((a for a in updated if a.account_id == account_id), None)
        repo = LedgerRepository(uow.session, program_id)
        return balance_proto(await repo.balance(account_id, datetime.now(UTC), known))

    async def Credit(
        self, request: accounts_pb2.CreditRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.CreditResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.CreditResponse:
            account_id = await resolve_account_id(
                uow.session, program_id, request.member, checked_later=True
            )
            with member_checked(request.member):
                plan = await self.ledger(program_id).credit(
                    uow, credit_command(request, account_id, actor, request.idempotency_key)
                )
            lot = plan.new_lots[0]
            event = plan.events[0]
            return accounts_pb2.CreditResponse(
                result=credit_result(
                    plan.transaction.tx_id,
                    account_id,
                    lot.lot_id,
                    lot.expires_at,
                    getattr(event, "deficit_repaid", 0),
                ),
                balance=await self._balance(uow, program_id, account_id, plan),
            )

        return await self._grouped(
            self.credits, "Credit", request, accounts_pb2.CreditResponse, actor, work
        )

    async def BatchCredit(
        self, request: accounts_pb2.BatchCreditRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.BatchCreditResponse:
        actor = self.caller().key_id
        check_size(request.entries)

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.BatchCreditResponse:
            return await credit_entries(
                uow,
                self.ledger(program_id),
                program_id,
                request.entries,
                batch_key=request.idempotency_key,
                actor=actor,
            )

        return await self.mutate("BatchCredit", request, accounts_pb2.BatchCreditResponse, work)

    async def Debit(
        self, request: accounts_pb2.DebitRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.DebitResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.DebitResponse:
            account_id = await resolve_account_id(
                uow.session, program_id, request.member, checked_later=True
            )
            with member_checked(request.member):
                plan = await self.ledger(program_id).debit(
                    uow, debit_command(request, account_id, actor, request.idempotency_key)
                )
            return accounts_pb2.DebitResponse(
                result=debit_result(plan),
                balance=await self._balance(uow, program_id, account_id, plan),
            )

        return await self._grouped(
            self.debits, "Debit", request, accounts_pb2.DebitResponse, actor, work
        )

    async def AdjustPoints(
        self, request: accounts_pb2.AdjustPointsRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.AdjustPointsResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.AdjustPointsResponse:
            account_id = await resolve_account_id(uow.session, program_id, request.member)
            plan = await self.ledger(program_id).adjust(
                uow,
                AdjustPoints(
                    account_id=account_id,
                    delta=request.delta,
                    reason=request.reason,
                    actor=actor,
                    source=Source(SourceType.ADMIN, actor),
                    kind=kind_from(request.kind),
                    idempotency_key=request.idempotency_key,
                ),
            )
            return accounts_pb2.AdjustPointsResponse(
                transaction_id=plan.transaction.tx_id,
                balance=await self._balance(uow, program_id, account_id),
            )

        return await self.mutate("AdjustPoints", request, accounts_pb2.AdjustPointsResponse, work)

    async def GetBalance(
        self, request: accounts_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.GetBalanceResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.GetBalanceResponse:
            account_id = await resolve_account_id(
                uow.session, program_id, request.member, checked_later=True
            )
            with member_checked(request.member):
                balance = await self._balance(uow, program_id, account_id)
            return accounts_pb2.GetBalanceResponse(account_id=account_id, balance=balance)

        return await self.read(work)

    async def ListHistory(
        self, request: accounts_pb2.ListHistoryRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListHistoryResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ListHistoryResponse:
            account_id = await resolve_account_id(uow.session, program_id, request.member)
            types = [
                ledger_pb2.TransactionType.Name(t).removeprefix("TRANSACTION_TYPE_").lower()
                for t in request.types
            ]
            txs, token = await history_page(
                uow.session,
                program_id,
                account_id,
                size=page_size(request.page.page_size),
                token=request.page.page_token,
                since=optional_time(request.since, request.HasField("since")),
                until=optional_time(request.until, request.HasField("until")),
                types=types,
            )
            return accounts_pb2.ListHistoryResponse(
                transactions=[transaction_proto(t, for_account=account_id) for t in txs],
                page=common_pb2.PageResponse(next_page_token=token),
            )

        return await self.read(work)

    async def ListExpiringSoon(
        self, request: accounts_pb2.ListExpiringSoonRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ListExpiringSoonResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ListExpiringSoonResponse:
            account_id = await resolve_account_id(uow.session, program_id, request.member)
            days = request.within_days or self.ctx.programs.spec(program_id).expiring_soon_days
            lots = await LedgerRepository(uow.session, program_id).live_lots(account_id)
            items = expiring_within(lots, datetime.now(UTC), days)
            return accounts_pb2.ListExpiringSoonResponse(
                expiring=[expiring_proto(i) for i in items], total=sum(i.amount for i in items)
            )

        return await self.read(work)

    async def ReverseTransaction(
        self, request: accounts_pb2.ReverseTransactionRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.ReverseTransactionResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.ReverseTransactionResponse:
            plan = await self.ledger(program_id).reverse(
                uow, reverse_command(request, actor, request.idempotency_key)
            )
            tx = plan.transaction
            event = to_proto(plan.events[0])
            return accounts_pb2.ReverseTransactionResponse(
                result=getattr(event, "result", None),
                balance=await self._balance(uow, program_id, tx.account_id),
            )

        return await self.mutate(
            "ReverseTransaction", request, accounts_pb2.ReverseTransactionResponse, work
        )

    async def Transfer(
        self, request: accounts_pb2.TransferRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.TransferResponse:
        actor = self.caller().key_id

        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.TransferResponse:
            sender = await resolve_account_id(
                uow.session, program_id, request.from_member, field="from_member"
            )
            receiver = await resolve_account_id(
                uow.session, program_id, request.to_member, field="to_member"
            )
            plan = await self.ledger(program_id).transfer(
                uow, transfer_command(request, sender, receiver, actor, request.idempotency_key)
            )
            return accounts_pb2.TransferResponse(
                transaction_id=plan.transaction.tx_id,
                balance=await self._balance(uow, program_id, sender),
            )

        return await self.mutate("Transfer", request, accounts_pb2.TransferResponse, work)

    async def Verify(
        self, request: accounts_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> accounts_pb2.VerifyResponse:
        async def work(uow: UnitOfWork, program_id: str) -> accounts_pb2.VerifyResponse:
            v = await verify_program(uow.session, program_id)
            return accounts_pb2.VerifyResponse(
                consistent=not v.problems,
                problems=v.problems[:100],
                accounts_checked=v.accounts_checked,
                issued=-v.system.get("issued", 0),
                member_balances=v.member_balances,
                held=v.held,
                redeemed=v.system.get("redeemed", 0),
                expired=v.system.get("expired", 0),
                adjustments=v.system.get("adjustments", 0),
            )

        return await self.read(work)
