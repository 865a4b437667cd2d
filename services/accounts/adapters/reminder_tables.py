"""The table behind expiry reminders (announced lots)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.base import Base


class ExpiryReminderRow(Base):
    """A lot a `points_expiring_soon` event announced; it is not announced again."""

    __tablename__ = "expiry_reminders"

    lot_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    program_id: Mapped[str] = mapped_column(String(64))
    announced_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
