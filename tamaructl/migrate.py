"""`tamaructl migrate`: apply every service's migrations (the Helm pre-upgrade Job runs this)."""

from __future__ import annotations

import argparse
from pathlib import Path

from runtime.config import SERVICES, load_settings
from runtime.db import migrations

ROOT = Path(__file__).resolve().parent.parent


def migrations_dir(service: str) -> Path:
    return ROOT / "services" / service / "adapters" / "migrations"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl migrate")
    parser.add_argument("--service", choices=SERVICES, action="append")
    args = parser.parse_args(argv)
    settings = load_settings()
    for service in args.service or SERVICES:
        migrations.upgrade(migrations_dir(service), settings.database_url, service)
        print(f"{service}: migrated to head")
    return 0
