"""Alembic, run per service against that service's schema.

Each service keeps its revisions in `services/<name>/adapters/migrations/`; its `env.py` is two
lines that call `run_migrations_online`. Migrating takes a PostgreSQL advisory lock (so replicas
starting together, or the Helm pre-upgrade Job and a dev service, never migrate concurrently)
and sets `lock_timeout` (so a migration waiting behind a long transaction fails fast instead of
blocking every query queued behind its lock).
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from runtime.db import plumbing  # noqa: F401  (the plumbing tables are part of every schema)
from runtime.db.engine import make_sync_engine

LOCK_TIMEOUT = "10s"


def alembic_config(migrations_dir: Path, database_url: str, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    config.attributes["schema"] = schema
    return config


def upgrade(migrations_dir: Path, database_url: str, schema: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(migrations_dir, database_url, schema), revision)


def downgrade(migrations_dir: Path, database_url: str, schema: str, revision: str) -> None:
    command.downgrade(alembic_config(migrations_dir, database_url, schema), revision)


def current(migrations_dir: Path, database_url: str, schema: str) -> None:
    command.current(alembic_config(migrations_dir, database_url, schema))


def run_migrations_online(target_metadata: MetaData) -> None:
    """Body of every service's Alembic env.py."""
    config = context.config
    schema: str = config.attributes["schema"]
    engine = make_sync_engine(
        config.attributes["database_url"], schema=schema, application_name=f"migrate-{schema}"
    )
    lock_id = zlib.crc32(f"tamaru-migrate-{schema}".encode())
    with engine.connect() as connection:
        connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
        try:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.commit()
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                version_table_schema=schema,
                transaction_per_migration=True,
                compare_type=True,
                include_object=_not_version_table,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
            connection.commit()
    engine.dispose()


def _not_version_table(obj: object, name: str | None, type_: str, *_: object) -> bool:
    return not (type_ == "table" and name == "alembic_version")
