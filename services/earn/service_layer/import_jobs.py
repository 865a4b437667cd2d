"""What grant and purchase imports share: the layout an upload asks for (its own converter or
one from the program config), the job row keyed by file kind and SHA-256, and its progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from runtime.db.unit_of_work import UnitOfWork, new_id, run_in_transaction
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from runtime.programs.spec import ProgramSpec
from runtime.telemetry import metrics
from services.earn.adapters.orm import ImportJobRow
from services.earn.domain.file_layouts import FileLayout, RowError
from tamaru.earn.v1 import imports_pb2

MAX_ERRORS = 1000


@dataclass
class Tally:
    """Rows read, landed and refused so far, and the points the landed ones brought."""

    total: int = 0
    ok: int = 0
    points: int = 0
    errors: list[RowError] = field(default_factory=list)


def layout_for(spec: ProgramSpec, converter: imports_pb2.Converter | None, file: str) -> FileLayout:
    """The upload's own converter, or the program config's converter it names by id."""
    if converter is None:
        return FileLayout()
    if not converter.converter_id:
        return FileLayout(
            encoding=converter.encoding,
            delimiter=converter.delimiter,
            header=not converter.no_header,
            columns=dict(converter.columns),
            fixed=dict(converter.fixed),
            date_format=converter.date_format,
        )
    named = imports_pb2.Converter(converter_id=converter.converter_id)
    if converter != named:
        raise InvalidArgument(
            "a converter_id names the whole layout: leave the other converter fields empty",
            field="converter",
        )
    found = next((c for c in spec.earn.import_converters if c.id == converter.converter_id), None)
    if found is None:
        raise NotFound(
            f"the program config has no import converter {converter.converter_id!r}",
            reason="CONVERTER_NOT_FOUND",
            field="converter.converter_id",
        )
    if found.file != file:
        raise FailedPrecondition(
            f"converter {found.id!r} reads {found.file} files, not {file}",
            reason="CONVERTER_FOR_OTHER_FILES",
            field="converter.converter_id",
        )
    return FileLayout(
        encoding=found.encoding,
        delimiter=found.delimiter,
        header=found.header,
        columns=dict(found.columns),
        fixed=dict(found.fixed),
        date_format=found.date_format,
    )


def job_proto(row: ImportJobRow) -> imports_pb2.ImportJob:
    return imports_pb2.ImportJob(
        job_id=row.job_id,
        file=row.file,
        file_sha256=row.file_sha256,
        status=row.status,
        rows_total=row.rows_total,
        rows_ok=row.rows_ok,
        rows_failed=row.rows_failed,
        points_total=row.points_total,
        errors=[imports_pb2.ImportRowError(**e) for e in row.errors],
    )


async def open_job(
    uow_factory: Callable[[], UnitOfWork], program_id: str, file: str, sha: str
) -> ImportJobRow:
    """The file's job: a new one, or the one an earlier upload of the same bytes started."""

    async def work(uow: UnitOfWork) -> ImportJobRow:
        await uow.session.execute(
            insert(ImportJobRow)
            .values(
                program_id=program_id,
                file=file,
                file_sha256=sha,
                job_id=new_id(),
                status="running",
                rows_total=0,
                rows_ok=0,
                rows_failed=0,
                points_total=0,
                errors=[],
            )
            .on_conflict_do_nothing()
        )
        job = await uow.session.scalar(
            select(ImportJobRow).where(
                ImportJobRow.program_id == program_id,
                ImportJobRow.file == file,
                ImportJobRow.file_sha256 == sha,
            )
        )
        assert job is not None
        return job

    return await run_in_transaction(uow_factory, work)


def _error_dicts(errors: list[RowError]) -> list[dict[str, object]]:
    ordered = sorted(errors, key=lambda e: e.line)[:MAX_ERRORS]
    return [{"line": e.line, "field": e.field, "message": e.message} for e in ordered]


async def record_progress(
    uow_factory: Callable[[], UnitOfWork], job: ImportJobRow, tally: Tally, status: str
) -> None:
    async def write(uow: UnitOfWork) -> None:
        await uow.session.execute(
            update(ImportJobRow)
            .where(ImportJobRow.job_id == job.job_id)
            .values(
                status=status,
                rows_total=tally.total,
                rows_ok=tally.ok,
                rows_failed=len(tally.errors),
                points_total=tally.points,
                errors=_error_dicts(tally.errors),
            )
        )

    await run_in_transaction(uow_factory, write)
    for state, rows in (
        ("read", tally.total),
        ("landed", tally.ok),
        ("rejected", len(tally.errors)),
    ):
        metrics.import_rows.set(rows, service="earn", job=job.job_id, state=state)


async def finish(
    uow_factory: Callable[[], UnitOfWork], job: ImportJobRow, tally: Tally
) -> imports_pb2.ImportJob:
    await record_progress(uow_factory, job, tally, "done")
    job.status, job.rows_total, job.rows_ok = "done", tally.total, tally.ok
    job.rows_failed, job.points_total = len(tally.errors), tally.points
    job.errors = _error_dicts(tally.errors)
    return job_proto(job)


async def get_job(uow: UnitOfWork, program_id: str, job_id: str) -> imports_pb2.ImportJob:
    row = await uow.session.scalar(
        select(ImportJobRow).where(
            ImportJobRow.program_id == program_id, ImportJobRow.job_id == job_id
        )
    )
    if row is None:
        raise NotFound("no such import job", reason="IMPORT_JOB_NOT_FOUND", field="job_id")
    return job_proto(row)
