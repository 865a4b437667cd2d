"""The clients: asyncio tasks, each with its own seeded random stream, sending one request at a
time (like Jepsen's processes) and recording each in the history."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import Message

from chaos.client import RetryPolicy, UnaryCall, execute
from chaos.history import History, Op, Outcome
from chaos.operations import KINDS, WEIGHTS, Built, ClientState, Kind, build_grant, grant
from chaos.programs import ChaosProgram
from tamaru.accounts.v1 import accounts_pb2_grpc
from tamaru.earn.v1 import earn_pb2, earn_pb2_grpc
from tamaru.redeem.v1 import redeem_pb2_grpc

STUBS = {
    "accounts": accounts_pb2_grpc.AccountsServiceStub,
    "earn": earn_pb2_grpc.EarnServiceStub,
    "redeem": redeem_pb2_grpc.RedeemServiceStub,
}


@dataclass
class Workload:
    programs: Sequence[ChaosProgram]
    channels: Mapping[str, grpc.aio.Channel]
    seed: int
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    history: History = field(default_factory=History)
    started_at: float = field(default_factory=time.monotonic)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def clock(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def kinds(self) -> list[Kind]:
        """The kinds whose service runs."""
        return [k for k in KINDS.values() if k.service in self.channels]

    def call(self, kind: Kind) -> UnaryCall:
        stub = STUBS[kind.service](self.channels[kind.service])
        method: UnaryCall = getattr(stub, kind.method)
        return method

    def program(self, program_id: str) -> ChaosProgram:
        return next(p for p in self.programs if p.program_id == program_id)

    async def perform(self, client: int, kind: Kind, program: ChaosProgram, built: Built) -> Op:
        request, members = built
        op = Op(
            op_id=next(self._ids),
            client=client,
            program_id=program.program_id,
            kind=kind.name,
            key=_key_of(request),
            request=request,
            members=members,
            started=self.clock(),
        )
        await execute(op, self.call(kind), program.metadata(), kind.ack, self.policy, self.clock)
        self.history.add(op)
        return op

    async def seed_balances(self, points: int) -> None:
        """One sponsor-funded grant per member, so spends mostly find points (recorded like
        every other request)."""

        await asyncio.gather(
            *(
                self.perform(-1, KINDS["grant"], p, grant(f"seed-{i}", account_id, points))
                for p in self.programs
                for i, account_id in enumerate(p.members)
            )
        )

    async def run(self, clients: int, seconds: float) -> None:
        end = self.clock() + seconds
        await asyncio.gather(*(self._client(c, end) for c in range(clients)))

    async def _client(self, client: int, end: float) -> None:
        rng = random.Random(self.seed * 1_000_003 + client)
        program = self.programs[client % len(self.programs)]
        state = ClientState()
        kinds = self.kinds
        weights = [WEIGHTS[k.name] for k in kinds]
        for seq in itertools.count():
            if self.clock() >= end:
                return
            kind = rng.choices(kinds, weights)[0]
            key = f"c{client:02d}-{seq:06d}"
            built = kind.build(rng, program, state, key)
            if built is None:  # nothing to cancel yet: grant instead
                kind, built = KINDS["grant"], build_grant(rng, program, state, key)
            op = await self.perform(client, kind, program, built)
            confirmed = op.outcome is Outcome.OK and op.refs[1:] == ("ORDER_STATUS_CONFIRMED",)
            if op.kind == "order" and confirmed:
                state.confirmed_orders.append((op.refs[0], op.members[0]))


def _key_of(request: Message) -> str:
    """The request's idempotency key; purchases are keyed by their purchase id."""
    if isinstance(request, earn_pb2.RecordPurchaseRequest):
        return request.purchase.purchase_id
    return str(getattr(request, "idempotency_key"))  # noqa: B009 (any request type)
