"""Grant file imports: decode, convert, credit each good row once, report the bad ones.

The job is keyed by the file's SHA-256: a re-upload of a finished file returns its job and
credits nothing; a re-upload of an interrupted one runs again and every row it already
credited replays on accounts' side (key `earn:import:<sha>:<line>`), so imports resume safely.
Good rows are credited 1,000 at a time, one accounts BatchCredit command (one transaction)
per chunk, each row under its own key, so chunks may fall differently on a re-run.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import TamaruError
from runtime.programs.spec import ProgramSpec
from runtime.programs.spec_earn import GRANT_COLUMNS
from services.earn.adapters.accounts import credit_refusal
from services.earn.domain.file_layouts import FileLayout, RowError, check_layout, decode
from services.earn.domain.grant_files import GrantRow, read_rows
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.import_jobs import (
    Tally,
    finish,
    job_proto,
    open_job,
    record_progress,
)
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2, members_pb2
from tamaru.earn.v1 import imports_pb2

CHUNK = 1000  # rows per accounts BatchCredit command (one transaction; ~150 KB of command)
IN_FLIGHT = 2  # one chunk in accounts' Python while the database writes the other


def _amount(spec: ProgramSpec, row: GrantRow) -> tuple[int, str, bool, str, RowError | None]:
    """(points, kind, sponsor_funded, reason, error) of a row, like GrantPoints decides."""
    if row.criterion_id:
        criterion = next((c for c in spec.grant_criteria if c.id == row.criterion_id), None)
        if criterion is None:
            error = RowError(row.line, "criterion_id", f"unknown criterion {row.criterion_id!r}")
            return 0, "", False, "", error
        kind = criterion.point_kind or "normal"
        return criterion.points, kind, criterion.sponsor_funded, row.reason or criterion.name, None
    if not spec.allow_free_amount_grants:
        return 0, "", False, "", RowError(row.line, "criterion_id", "a criterion is required")
    if not row.points or not row.reason:
        missing = "points" if not row.points else "reason"
        return 0, "", False, "", RowError(row.line, missing, f"{missing} is required")
    return row.points, "normal", False, row.reason, None


async def import_grants(
    uow_factory: Callable[[], UnitOfWork],
    deps: EarnDeps,
    program_id: str,
    actor: str,
    layout: FileLayout,
    data: bytes,
) -> imports_pb2.ImportJob:
    spec = deps.programs.require_open(program_id)
    check_layout(layout, GRANT_COLUMNS)
    text = decode(data, layout)
    sha = hashlib.sha256(data).hexdigest()
    job = await open_job(uow_factory, program_id, "grants", sha)
    if job.status == "done":
        return job_proto(job)
    accounts = deps.accounts(program_id, actor)
    tally = Tally()
    chunk: list[tuple[GrantRow, accounts_pb2.BatchCreditEntry]] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def credit(rows: list[tuple[GrantRow, accounts_pb2.BatchCreditEntry]]) -> None:
        try:
            reply = await accounts.batch_credit([entry for _, entry in rows])
        except TamaruError as exc:  # the whole chunk refused (e.g. the program was closed)
            tally.errors.extend(
                RowError(row.line, exc.field or "row", exc.message) for row, _ in rows
            )
            return
        for (row, entry), result in zip(rows, reply.results, strict=True):
            if result.HasField("error"):
                tally.errors.append(
                    RowError(
                        row.line, _row_field(result.error.field), credit_refusal(result).message
                    )
                )
            else:
                tally.ok += 1
                tally.points += entry.amount

    for parsed in read_rows(text, layout):
        tally.total += 1
        if isinstance(parsed, RowError):
            tally.errors.append(parsed)
            continue
        points, kind, sponsor, reason, error = _amount(spec, parsed)
        if error is not None:
            tally.errors.append(error)
            continue
        chunk.append((parsed, _entry(sha, job.job_id, parsed, points, kind, sponsor, reason)))
        if len(chunk) >= CHUNK:
            in_flight.add(asyncio.create_task(credit(chunk)))
            chunk = []
            if len(in_flight) >= IN_FLIGHT:
                done, in_flight = await asyncio.wait(in_flight, return_when="FIRST_COMPLETED")
                for task in done:
                    task.result()
                await record_progress(uow_factory, job, tally, "running")
    if chunk:
        in_flight.add(asyncio.create_task(credit(chunk)))
    for task in in_flight:
        await task
    return await finish(uow_factory, job, tally)


def _entry(
    sha: str, job_id: str, row: GrantRow, points: int, kind: str, sponsor: bool, reason: str
) -> accounts_pb2.BatchCreditEntry:
    """The row's credit, keyed by file and line: a re-run of the file credits it once."""
    return accounts_pb2.BatchCreditEntry(
        member=members_pb2.MemberSelector(external_ref=row.member),
        amount=points,
        kind=kind,
        source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_IMPORT_ROW, id=f"{job_id}:{row.line}"),
        reason=reason[:500],
        sponsor_funded=sponsor,
        idempotency_key=f"earn:import:{sha}:{row.line}",
    )


def _row_field(entry_field: str) -> str:
    """`entries[7].member` -> `member`: the report names the file's column, not the batch."""
    name = entry_field.partition("].")[2]
    return "member" if name in ("", "account_id") or name.startswith("member") else name
