"""The ledger's totals for one program (accounts' `Verify`), to prove a refused request moved
no points."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tamaru.accounts.v1 import accounts_pb2
from tests.hostile.stack import HostileStack
from tests.support.services import TestProgram


@dataclass(frozen=True)
class LedgerTotals:
    issued: int
    member_balances: int
    held: int
    redeemed: int
    expired: int
    adjustments: int
    consistent: bool
    problems: tuple[str, ...]


async def ledger_totals(stack: HostileStack, program: TestProgram) -> LedgerTotals | None:
    """None when accounts is not among the services under test."""
    outcome = await stack.call_named("accounts", "Verify", accounts_pb2.VerifyRequest(), program)
    if outcome is None:
        return None
    assert outcome.ok, f"Verify failed: {outcome.describe()}"
    reply = outcome.responses[0]
    assert isinstance(reply, accounts_pb2.VerifyResponse)
    return LedgerTotals(
        issued=reply.issued,
        member_balances=reply.member_balances,
        held=reply.held,
        redeemed=reply.redeemed,
        expired=reply.expired,
        adjustments=reply.adjustments,
        consistent=reply.consistent,
        problems=tuple(reply.problems),
    )


async def settled_totals(
    stack: HostileStack, program: TestProgram, *, attempts: int = 20
) -> LedgerTotals | None:
    """Totals once nothing moves any more (a saga or a consumer may still be finishing the
    effects of an earlier accepted call): two equal readings in a row."""
    previous = await ledger_totals(stack, program)
    for _ in range(attempts):
        await asyncio.sleep(0.1)
        current = await ledger_totals(stack, program)
        if current == previous:
            return current
        previous = current
    return previous
