"""Small BatchCredit commands that arrive together, committed together (see
runtime/group_commit.py).

Earn records each purchase with a BatchCredit command of one entry per point kind (usually
one or two), each entry keyed on its own. Under load, the small commands of one program and
actor that queue behind the one in flight are merged into one `credit_entries` run: one
transaction, one key reservation, one plan write, for all of them. Each command still gets
exactly the reply it would get alone, numbered by its own entries.

A command any of whose entries the merged run refused goes SOLO: its usual path answers it,
in its own numbering, with its usual error. Its entries the merged run did credit are replayed
there by their keys, and the keys of the refused ones were given back, so nothing is credited
twice and nothing is lost. Large commands are batches already and always run alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.group_commit import SOLO, GroupCommit, Outcome
from services.accounts.entrypoints.batch_credit import credit_entries
from services.accounts.service_layer.ledger import Ledger
from tamaru.accounts.v1 import accounts_pb2
from tamaru.accounts.v1 import commands_pb2 as c

GROUPABLE_ENTRIES = 10  # commands with more entries run alone

Reply = c.LedgerCommandServiceBatchCreditResponse


class BatchGroup(NamedTuple):
    """Commands merge per program and actor: a merged run credits in one actor's name."""

    program_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class BatchCreditCall:
    entries: Sequence[accounts_pb2.BatchCreditEntry]  # every one carries its own key


def batch_credit_group_commit(
    uow_factory: Callable[[], UnitOfWork], ledger_for: Callable[[str], Ledger]
) -> GroupCommit[BatchGroup, BatchCreditCall, Reply]:
    async def run_batch(
        group: BatchGroup, calls: Sequence[BatchCreditCall]
    ) -> list[Outcome[Reply]]:
        ledger = ledger_for(group.program_id)
        return await run_in_transaction(
            uow_factory,
            lambda uow: batch_credit_calls(uow, ledger, group.program_id, group.actor, calls),
        )

    return GroupCommit(run_batch)


async def batch_credit_calls(
    uow: UnitOfWork, ledger: Ledger, program_id: str, actor: str, calls: Sequence[BatchCreditCall]
) -> list[Outcome[Reply]]:
    """One outcome per call, in order: its reply, or SOLO."""
    merged = [entry for call in calls for entry in call.entries]
    reply = await credit_entries(uow, ledger, program_id, merged, batch_key="", actor=actor)
    by_index = {result.index: result for result in reply.results}
    outcomes: list[Outcome[Reply]] = []
    offset = 0
    for call in calls:
        own = [by_index[offset + i] for i in range(len(call.entries))]
        offset += len(call.entries)
        if any(result.HasField("error") for result in own):
            outcomes.append(SOLO)
            continue
        results = [
            accounts_pb2.BatchCreditEntryResult(index=i, result=result.result)
            for i, result in enumerate(own)
        ]
        outcomes.append(Reply(credited=len(results), rejected=0, results=results))
    return outcomes
