"""A database or broker outage mid-request is UNAVAILABLE (retry with the same key), never
INTERNAL; a genuine bug still is INTERNAL."""

from __future__ import annotations

import grpc
import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError

from runtime.grpcserver.error_mapping import map_exception


def test_lost_database_connection_is_unavailable() -> None:
    lost = OperationalError(
        "SELECT 1", {}, psycopg.OperationalError("server closed the connection")
    )
    mapped = map_exception(lost, "0" * 32)
    assert mapped.code == grpc.StatusCode.UNAVAILABLE
    assert "retry with the same idempotency key" in mapped.message
    assert not mapped.unexpected


def test_refused_connection_is_unavailable() -> None:
    mapped = map_exception(ConnectionRefusedError("nope"), "0" * 32)
    assert mapped.code == grpc.StatusCode.UNAVAILABLE


def test_a_bug_is_still_internal() -> None:
    bug = DBAPIError("SELECT x", {}, psycopg.ProgrammingError("column x does not exist"))
    mapped = map_exception(bug, "0" * 32)
    assert mapped.code == grpc.StatusCode.INTERNAL
    assert mapped.unexpected
    assert "column x" not in mapped.message
