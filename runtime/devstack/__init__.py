"""The local stack for `make run` and the tests: find PostgreSQL and NATS, or start our own.

Each `ensure_*` prefers a server the developer already runs (the `TAMARU_*` URL, then the
well-known local port) and otherwise starts an embedded one whose data lives in a directory of
the project, so a laptop with nothing installed still runs everything.
"""

from runtime.devstack.endpoint import DevStackError, Endpoint
from runtime.devstack.nats import (
    NatsServer,
    ensure_nats,
    find_or_start_nats,
    has_jetstream,
    nats_server_binary,
    stop_nats,
)
from runtime.devstack.net import free_port, port_accepts
from runtime.devstack.postgres import (
    ensure_postgres,
    find_or_start_postgres,
    stop_postgres,
)
from runtime.devstack.sql import (
    drop_database,
    ensure_database,
    libpq_url,
    postgres_reachable,
    shown,
    with_database,
)

__all__ = [
    "DevStackError",
    "Endpoint",
    "NatsServer",
    "drop_database",
    "ensure_database",
    "ensure_nats",
    "ensure_postgres",
    "find_or_start_nats",
    "find_or_start_postgres",
    "free_port",
    "has_jetstream",
    "libpq_url",
    "nats_server_binary",
    "port_accepts",
    "postgres_reachable",
    "shown",
    "stop_nats",
    "stop_postgres",
    "with_database",
]
