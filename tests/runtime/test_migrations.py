"""Every service's migrations apply from scratch, downgrade to nothing and apply again, and the
result matches the models (an Alembic autogenerate comparison finds no difference)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect, text

from runtime.config import SERVICES
from runtime.db import migrations
from runtime.db.base import Base
from runtime.db.engine import make_sync_engine
from runtime.db.plumbing import PLUMBING_TABLES

ROOT = Path(__file__).resolve().parents[2]


def import_models(service: str) -> None:
    """Import a service's ORM modules so their tables are on the shared metadata."""
    package = f"services.{service}.adapters"
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
        if info.name.endswith(("orm", "tables")) or ".orm." in info.name:
            importlib.import_module(info.name)


@pytest.mark.parametrize("service", SERVICES)
async def test_upgrade_downgrade_upgrade_matches_models(
    create_database: object, service: str
) -> None:
    url = await create_database(f"tamaru_mig_{service}")  # type: ignore[operator]
    folder = ROOT / "services" / service / "adapters" / "migrations"
    migrations.upgrade(folder, url, service)
    migrations.downgrade(folder, url, service, "base")
    engine = make_sync_engine(url, schema=service)
    with engine.connect() as conn:
        left = set(inspect(conn).get_table_names(schema=service)) - {"alembic_version"}
    assert left == set(), f"downgrade left tables behind: {left}"
    migrations.upgrade(folder, url, service)

    import_models(service)
    expected = tables_of(service)
    with engine.connect() as conn:
        conn.execute(text(f"SET search_path TO {service}"))
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, expected)
    engine.dispose()
    assert diff == [], f"{service}: models and migrations disagree: {diff}"


def tables_of(service: str) -> MetaData:
    """The plumbing tables plus the tables of the service's own models, in a fresh MetaData."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    tables: list[Table] = list(PLUMBING_TABLES)
    for mapper in Base.registry.mappers:
        if mapper.class_.__module__.startswith(f"services.{service}."):
            tables += [cast(Table, t) for t in mapper.tables]
    for table in tables:
        table.to_metadata(metadata)
    return metadata
