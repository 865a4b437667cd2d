"""The benchmark runs its own accounts process; a NATS server of its own keeps the test
session's other accounts instances from answering its program's config reports first."""

from tests.support.isolation import database_url, nats_server, nats_url  # noqa: F401  (own world)
