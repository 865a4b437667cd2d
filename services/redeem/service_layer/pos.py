"""Points at the point of sale: an immediate debit per sale, reversed if the sale is voided.

The ledger debit's idempotency key is derived from the sale id, so any retry (same request, or
a POS that re-sends after a timeout) debits once; the discount row is written after the debit
and found again by a retry. A sale voided twice is reversed once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction
from runtime.errors import FailedPrecondition, InvalidArgument
from services.redeem.adapters.orm import PosDiscountRow
from services.redeem.adapters.pos_repository import PosRepository
from services.redeem.adapters.remote import Accounts, order_source
from services.redeem.domain.pos import check_sale_id, validate_discount

__all__ = ["use_points", "validate_discount", "void_discount"]
from tamaru.accounts.v1 import ledger_pb2
from tamaru.redeem.v1 import events_pb2


def sale_source(sale_id: str) -> ledger_pb2.Source:
    # The ledger has no POS source type; a POS sale is an order of the store's.
    return order_source(f"pos:{sale_id}")


def event_of(row: PosDiscountRow, transaction_id: str) -> events_pb2.PosDiscountChanged:
    return events_pb2.PosDiscountChanged(
        discount_id=row.discount_id,
        member_id=row.member_id,
        sale_id=row.sale_id,
        store_id=row.store_id,
        points=row.points,
        transaction_id=transaction_id,
    )


async def use_points(
    uow_factory: Callable[[], UnitOfWork],
    accounts: Accounts,
    program_id: str,
    *,
    member_id: str,
    points: int,
    sale_id: str,
    store_id: str,
) -> tuple[PosDiscountRow, int]:
    validate_discount(points, sale_id, store_id)
    try:
        debit = await accounts.debit(
            member_id,
            points,
            sale_source(sale_id),
            f"points discount at {store_id or 'POS'} (sale {sale_id})",
            f"redeem:pos:{program_id}:{sale_id}",
        )
    except InvalidArgument as error:
        if error.reason == "IDEMPOTENCY_KEY_REUSED":
            raise InvalidArgument(
                f"sale {sale_id} already has a points discount for another member or amount",
                reason="SALE_ALREADY_DISCOUNTED",
                field="sale_id",
            ) from error
        raise

    async def record(uow: UnitOfWork) -> PosDiscountRow:
        repo = PosRepository(uow.session, program_id)
        row, fresh = await repo.record(
            sale_id, store_id, member_id, points, debit.result.transaction_id
        )
        if fresh:
            await uow.emit(
                program_id,
                "pos_points_used",
                event_of(row, row.transaction_id),
                aggregate_id=row.discount_id,
            )
        return row

    row = await run_in_transaction(uow_factory, record)
    return row, debit.available


async def void_discount(
    uow_factory: Callable[[], UnitOfWork], accounts: Accounts, program_id: str, sale_id: str
) -> PosDiscountRow:
    check_sale_id(sale_id)
    async with uow_factory() as uow:
        row = await PosRepository(uow.session, program_id).by_sale(sale_id, for_update=False)
    if row.voided_at is not None:
        return row
    reversal = await accounts.reverse(
        row.transaction_id,
        sale_source(sale_id),
        f"sale {sale_id} voided",
        f"redeem:pos:{program_id}:{sale_id}:void",
    )
    tx_id = reversal.result.transaction_id

    async def record(uow: UnitOfWork) -> PosDiscountRow:
        repo = PosRepository(uow.session, program_id)
        locked = await repo.by_sale(sale_id, for_update=True)
        if locked.voided_at is None:
            await repo.mark_voided(locked, tx_id, datetime.now(UTC))
            await uow.emit(
                program_id,
                "pos_discount_voided",
                event_of(locked, tx_id),
                aggregate_id=locked.discount_id,
            )
        elif locked.void_transaction_id != tx_id:
            raise FailedPrecondition("the sale was voided concurrently", reason="ALREADY_VOIDED")
        return locked

    return await run_in_transaction(uow_factory, record)
