"""Purchase file imports: every good row is recorded like RecordPurchase, bad rows reported.

Each row is one purchase recorded under its own purchase_id (the same idempotency key the API
uses), with the rules in force at its own time, so a re-upload, a resumed upload or a file
overlapping purchases already sent by the POS records nothing twice. Rows are recorded
concurrently, a bounded number in flight, each one an earn transaction plus an accounts credit.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from google.protobuf.timestamp_pb2 import Timestamp

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import TamaruError
from runtime.programs.spec_earn import PURCHASE_COLUMNS
from services.earn.domain.file_layouts import FileLayout, RowError, check_layout, decode
from services.earn.domain.purchase_files import PurchaseRow, read_purchases
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.import_jobs import (
    Tally,
    finish,
    job_proto,
    open_job,
    record_progress,
)
from tamaru.accounts.v1 import members_pb2
from tamaru.earn.v1 import earn_pb2, imports_pb2, purchases_pb2

IN_FLIGHT = 16
PROGRESS_EVERY = 2000

RecordPurchase = Callable[
    [earn_pb2.RecordPurchaseRequest], Awaitable[earn_pb2.RecordPurchaseResponse]
]


def purchase_of(row: PurchaseRow) -> purchases_pb2.Purchase:
    member = (
        members_pb2.MemberSelector(external_ref=row.member)
        if row.member
        else members_pb2.MemberSelector(
            identifier=members_pb2.IdentifierKey(
                type=members_pb2.IDENTIFIER_TYPE_CARD_NUMBER, value=row.card
            )
        )
    )
    at = Timestamp()
    at.FromDatetime(row.occurred_at)
    purchase = purchases_pb2.Purchase(
        purchase_id=row.purchase_id,
        member=member,
        channel=row.channel,
        store=row.store,
        amount_yen=row.amount_yen,
        occurred_at=at,
    )
    if row.sku or row.category:
        purchase.lines.append(
            purchases_pb2.PurchaseLine(
                sku=row.sku, category=row.category, amount_yen=row.amount_yen
            )
        )
    return purchase


def _column(field: str) -> str:
    """`purchase.member.external_ref` -> `member`: the report names the file's column."""
    name = field.removeprefix("purchase.").split(".")[0].split("[")[0]
    if name == "lines":
        return "sku"
    return name if name in PURCHASE_COLUMNS else "row"


async def import_purchases(
    uow_factory: Callable[[], UnitOfWork],
    deps: EarnDeps,
    program_id: str,
    layout: FileLayout,
    data: bytes,
    record: RecordPurchase,
) -> imports_pb2.ImportJob:
    spec = deps.programs.require_open(program_id)
    check_layout(layout, PURCHASE_COLUMNS)
    text = decode(data, layout)
    job = await open_job(uow_factory, program_id, "purchases", hashlib.sha256(data).hexdigest())
    if job.status == "done":
        return job_proto(job)
    tally = Tally()
    semaphore = asyncio.Semaphore(IN_FLIGHT)

    async def one(row: PurchaseRow) -> None:
        async with semaphore:
            try:
                recorded = await record(earn_pb2.RecordPurchaseRequest(purchase=purchase_of(row)))
            except TamaruError as exc:
                tally.errors.append(RowError(row.line, _column(exc.field), exc.message))
                return
        tally.ok += 1
        tally.points += recorded.result.total_points

    pending: list[asyncio.Task[None]] = []
    for parsed in read_purchases(text, layout, spec.zone):
        tally.total += 1
        if isinstance(parsed, RowError):
            tally.errors.append(parsed)
        else:
            pending.append(asyncio.create_task(one(parsed)))
        if len(pending) >= PROGRESS_EVERY:
            await asyncio.gather(*pending)
            pending.clear()
            await record_progress(uow_factory, job, tally, "running")
    await asyncio.gather(*pending)
    return await finish(uow_factory, job, tally)
