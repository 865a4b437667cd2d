"""What grouped ledger calls share (grouped_credits.py, grouped_debits.py; the batching itself
is runtime/group_commit.py).

Under load, the calls of one program that queue behind the one in flight are run as one
transaction: one key reservation, one account lock, one plan write and one balance read for
all of them, where each alone costs the same round trips. Each call still gets its own
transaction, events, stored idempotent response and balance, exactly as it would alone.

Anything the batch cannot answer exactly as the usual path would goes SOLO and runs alone: a
call whose key was used before for something else, a member that does not resolve, an
operation the ledger refuses (its error must be the usual one), a second call with the same key
or for the same account (its balance must follow the first's). Keys reserved for those are
given back in the same transaction, so their usual path reserves them afresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import TamaruError
from runtime.group_commit import SOLO, GroupCommit, Outcome
from runtime.idempotency import MAX_KEY_LENGTH, begin_many, finish_many, forget_many
from services.accounts.adapters.member_lookup import resolve_account_ids
from services.accounts.service_layer.ledger import Ledger

R = TypeVar("R", bound=Message)
Cmd = TypeVar("Cmd")
A = TypeVar("A")  # what the ledger did with a batch's commands: its replies are built from it


@dataclass(frozen=True, slots=True)
class LedgerCall:
    request: Any  # the RPC's or the command's request: a member selector and the operation
    actor: str  # who acts: the caller's API key id, or the command's actor
    key: str  # the idempotency key the usual path uses


@dataclass(frozen=True)
class Replies(Generic[A, R]):
    """How one entry point answers: its idempotency scope (the usual path's, so either path
    replays the other's responses), its response type, and how a batch builds them from what
    the ledger did (keyed by the call's index)."""

    scope: str
    response_type: type[R]
    build: Callable[[UnitOfWork, str, A], Awaitable[dict[int, R]]]


def ledger_group_commit(
    uow_factory: Callable[[], UnitOfWork],
    ledger_for: Callable[[str], Ledger],
    command_of: Callable[[Any, str, str, str], Cmd],
    apply: Callable[[UnitOfWork, Ledger, list[tuple[int, Cmd]]], Awaitable[A]],
    replies: Replies[A, R],
) -> GroupCommit[str, LedgerCall, R]:
    """Batches per program (submit with the program id), each in one transaction: the calls'
    keys reserved, one command per account (`command_of(request, account_id, actor, key)`,
    the usual path's converter), `apply` runs them through the ledger, `replies` answers."""

    async def run_batch(program_id: str, calls: Sequence[LedgerCall]) -> list[Outcome[R]]:
        ledger = ledger_for(program_id)

        async def answer_fresh(uow: UnitOfWork, fresh: list[int]) -> dict[int, R]:
            cmds = await one_command_per_account(uow, program_id, calls, fresh, command_of)
            if not cmds:
                return {}
            return await replies.build(uow, program_id, await apply(uow, ledger, cmds))

        return await run_in_transaction(
            uow_factory,
            lambda uow: answer_calls(
                uow, program_id, replies.scope, replies.response_type, calls, answer_fresh
            ),
        )

    return GroupCommit(run_batch)


async def answer_calls(
    uow: UnitOfWork,
    program_id: str,
    scope: str,
    response_type: type[R],
    calls: Sequence[LedgerCall],
    answer_fresh: Callable[[UnitOfWork, list[int]], Awaitable[dict[int, R]]],
) -> list[Outcome[R]]:
    """One outcome per call, in order: a replayed response for a retry, the response
    `answer_fresh(uow, indexes of the new calls)` gave for a new call, or SOLO. `scope` is the
    usual path's, so either path replays the other's responses."""
    outcomes: list[Outcome[R]] = [SOLO] * len(calls)
    by_key: dict[str, int] = {}
    for index, call in enumerate(calls):
        if call.key and len(call.key) <= MAX_KEY_LENGTH and call.key not in by_key:
            by_key[call.key] = index
    earlier = await begin_many(
        uow.session, program_id, scope, {k: calls[i].request for k, i in by_key.items()}
    )
    fresh: list[int] = []
    for key, index in by_key.items():
        if key not in earlier:
            continue
        prior = earlier[key]
        if isinstance(prior, bytes):  # a retry of a request already answered
            outcomes[index] = response_type.FromString(prior)
        elif prior is None:
            fresh.append(index)
    responses = await answer_fresh(uow, fresh) if fresh else {}
    for index, response in responses.items():
        outcomes[index] = response
    stored = {calls[i].key: response for i, response in responses.items()}
    await finish_many(uow.session, program_id, scope, stored)
    given_back = [calls[i].key for i in fresh if i not in responses]
    await forget_many(uow.session, program_id, scope, given_back)
    return outcomes


async def one_command_per_account(
    uow: UnitOfWork,
    program_id: str,
    calls: Sequence[LedgerCall],
    fresh: list[int],
    command_of: Callable[[Any, str, str, str], Cmd],
) -> list[tuple[int, Cmd]]:
    """The ledger commands of the fresh calls that resolve, the first one per account.
    `command_of` is the usual path's converter."""
    # An account id needs no lookup: the ledger's lock is the existence check, as alone.
    to_resolve = [
        i for i in fresh if calls[i].request.member.WhichOneof("selector") != "account_id"
    ]
    resolved = await resolve_account_ids(
        uow.session, program_id, [calls[i].request.member for i in to_resolve]
    )
    account_of: dict[int, str | TamaruError] = dict(zip(to_resolve, resolved, strict=True))
    cmds: list[tuple[int, Cmd]] = []
    accounts: set[str] = set()
    for index in fresh:
        call = calls[index]
        account_id = account_of.get(index, call.request.member.account_id)
        if isinstance(account_id, TamaruError) or account_id in accounts:
            continue
        try:
            cmd = command_of(call.request, account_id, call.actor, call.key)
        except TamaruError:
            continue
        accounts.add(account_id)
        cmds.append((index, cmd))
    return cmds
