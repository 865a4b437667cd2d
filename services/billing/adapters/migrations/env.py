"""Alembic environment of the billing service (schema `billing`)."""

from runtime.db.base import Base
from runtime.db.migrations import run_migrations_online

run_migrations_online(Base.metadata)
