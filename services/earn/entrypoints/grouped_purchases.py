"""RecordPurchase calls that arrive together, recorded together (see runtime/group_commit.py).

Alone, a purchase costs an earn transaction and two accounts commands (resolve the member,
credit). Under load, the purchases of one program and caller that queue behind the one in
flight are recorded as one chunk by the stream's path (`purchase_batches.record_purchases`):
one earn transaction, one `ResolveIdentifiers`, one `BatchCredit` for all of them. That path
keeps RecordPurchase's idempotency scope and key (the purchase_id) and sends the same credit
entries and keys, so a purchase's reply, stored response and credits are the same either way,
and a retry on either path replays the other's.

A purchase the chunk refuses (unknown or inactive member, reused purchase_id, a credit accounts
refused) goes SOLO: its usual path answers it with its usual error, in its own trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import TamaruError
from runtime.group_commit import SOLO, GroupCommit, Outcome
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchase_batches import record_purchases
from tamaru.earn.v1 import earn_pb2
from tamaru.earn.v1 import purchases_pb2 as p

Reply = earn_pb2.RecordPurchaseResponse


class PurchaseGroup(NamedTuple):
    """Purchases merge per program and caller: accounts credits in the caller's name."""

    program_id: str
    actor: str


def purchase_group_commit(
    uow_factory: Callable[[], UnitOfWork], deps: EarnDeps
) -> GroupCommit[PurchaseGroup, p.Purchase, Reply]:
    async def run_batch(
        group: PurchaseGroup, purchases: Sequence[p.Purchase]
    ) -> list[Outcome[Reply]]:
        outcomes = await run_in_transaction(
            uow_factory,
            lambda uow: record_purchases(uow, deps, group.program_id, group.actor, purchases),
        )
        return [SOLO if isinstance(o, TamaruError) else o for o in outcomes]

    return GroupCommit(run_batch)
