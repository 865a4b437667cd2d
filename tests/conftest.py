"""Test-suite wide setup: the real PostgreSQL and NATS fixtures live in tests/infra/."""

pytest_plugins = ["tests.infra.fixtures"]
