"""The accounts service as the load generator calls it: grpc.aio over a few channels to
127.0.0.1, with a program's backend key, one method per benchmarked operation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import grpc

from bench.loaders import Population
from bench.stack import BenchProgram
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2

CHANNELS = 4  # callers share these (round robin), as a client library's pool would
TIMEOUT = 30.0
RULE = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_RULE, id="bench")
ORDER = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id="bench")


class UnexpectedReply(RuntimeError):
    """The service answered, but not what the operation should have produced."""


class AccountsClient:
    def __init__(self, target: str, program: BenchProgram, pop: Population) -> None:
        self._channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
        self._stubs = [accounts_pb2_grpc.AccountsServiceStub(c) for c in self._channels]
        self._metadata = program.metadata()
        self.pop = pop

    async def __aenter__(self) -> Self:
        for channel in self._channels:
            await channel.channel_ready()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for channel in self._channels:
            await channel.close()

    def _stub(self, client: int) -> accounts_pb2_grpc.AccountsServiceStub:
        return self._stubs[client % len(self._stubs)]

    def _member(self, index: int) -> members_pb2.MemberSelector:
        return members_pb2.MemberSelector(account_id=self.pop.account_id(index))

    async def credit(self, client: int, index: int, amount: int) -> int:
        request = accounts_pb2.CreditRequest(
            idempotency_key=str(uuid.uuid4()),
            member=self._member(index),
            amount=amount,
            source=RULE,
            reason="bench",
        )
        await self._stub(client).Credit(request, metadata=self._metadata, timeout=TIMEOUT)
        return 1

    async def debit(self, client: int, index: int, amount: int) -> int:
        request = accounts_pb2.DebitRequest(
            idempotency_key=str(uuid.uuid4()),
            member=self._member(index),
            amount=amount,
            source=ORDER,
            reason="bench",
        )
        await self._stub(client).Debit(request, metadata=self._metadata, timeout=TIMEOUT)
        return 1

    async def batch_credit(self, client: int, indexes: Sequence[int], amount: int) -> int:
        request = accounts_pb2.BatchCreditRequest(
            idempotency_key=str(uuid.uuid4()),
            entries=[
                accounts_pb2.BatchCreditEntry(
                    member=self._member(i), amount=amount, source=RULE, reason="bench"
                )
                for i in indexes
            ],
        )
        reply = await self._stub(client).BatchCredit(
            request, metadata=self._metadata, timeout=TIMEOUT
        )
        if reply.rejected:
            first = next(r.error for r in reply.results if r.HasField("error"))
            raise UnexpectedReply(f"{reply.rejected} entries rejected, e.g. {first.message}")
        return int(reply.credited)

    async def balance(self, client: int, index: int) -> int:
        """GetBalance; checks it is the balance the population was loaded with."""
        reply = await self._stub(client).GetBalance(
            accounts_pb2.GetBalanceRequest(member=self._member(index)),
            metadata=self._metadata,
            timeout=TIMEOUT,
        )
        if reply.balance.available != self.pop.balance:
            raise UnexpectedReply(
                f"balance of member {index} is {reply.balance.available}, loaded {self.pop.balance}"
            )
        return 1
