"""Tables every service has in its own schema: outbox, inbox, idempotency keys, program configs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base


class OutboxEvent(Base):
    """An event waiting to be published; written in the same transaction as the change, kept
    a day after it was published (runtime/retention.py)."""

    __tablename__ = "outbox_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    # W3C trace context of the transaction that wrote the event, so the relay's publish span
    # links back to the request that caused it.
    headers: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_outbox_events_unsent",
            "created_at",
            postgresql_where=text("sent_at IS NULL"),
        ),
        # The retention purge's work list (runtime/retention.py); migration step v2.
        Index("ix_outbox_events_sent", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
    )


class InboxEvent(Base):
    """An event a consumer has applied; the primary key makes a second apply a no-op."""

    __tablename__ = "inbox_events"

    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    # The retention purge's work list (runtime/retention.py); migration step v2.
    __table_args__ = (Index("ix_inbox_events_processed_at", "processed_at"),)


class IdempotencyRecord(Base):
    """The first response to a mutating request, replayed for the same key."""

    __tablename__ = "idempotency_keys"

    program_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary)
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class ProgramConfigRow(Base):
    """The program config revision this service last applied (from the NATS KV bucket)."""

    __tablename__ = "program_configs"

    program_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    generation: Mapped[int] = mapped_column(BigInteger)
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    closed: Mapped[bool] = mapped_column(default=False)
    applied_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


PLUMBING_TABLES: list[Table] = [
    cast(Table, model.__table__)
    for model in (OutboxEvent, InboxEvent, IdempotencyRecord, ProgramConfigRow)
]
