"""Alembic environment of the accounts service (schema `accounts`)."""

from runtime.db.base import Base
from runtime.db.migrations import run_migrations_online
from services.accounts.adapters import orm  # noqa: F401  (registers the tables)

run_migrations_online(Base.metadata)
