"""Fixtures of the observability tests."""

from __future__ import annotations

from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)
