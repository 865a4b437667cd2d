"""A PostgreSQL of the test's own, which the nemesis may stop and start again on the same port.

`runtime.devstack.postgres` starts the embedded server on a fresh free port each time (right
for `make run`, where nothing holds the old URL); the services under test keep their URL across
a restart, so the second and later starts here reuse the first port.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.engine import make_url

from runtime.devstack import find_or_start_postgres, postgres_reachable, stop_postgres

# The private helpers find the binaries and drop root privileges exactly as the devstack does;
# a public "start on this port" there would let this import go.
from runtime.devstack.postgres import _installation, _run, _RunAs


class ChaosPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = ""  # SQLAlchemy URL of the maintenance database, set by the first start
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        if not self._port:
            endpoint = await find_or_start_postgres(self.data_dir, use_existing=False)
            self.url = endpoint.url
            self._port = int(make_url(endpoint.url).port or 0)
            return
        await asyncio.to_thread(self._start_on_port)
        deadline = asyncio.get_running_loop().time() + 30
        while not await postgres_reachable(self.url, timeout=1):
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"PostgreSQL did not come back on port {self._port}")
            await asyncio.sleep(0.1)

    def _start_on_port(self) -> None:
        pgdata = self.data_dir / "data"
        pg = _installation(pgdata)
        argv = [pg.tool("pg_ctl"), "-D", str(pgdata), "-l", str(self.data_dir / "postgres.log")]
        argv += ["-o", f"-p {self._port}", "-w", "-t", "60", "start"]
        _run(argv, _RunAs.for_current_user())

    async def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients are disconnected."""
        await stop_postgres(self.data_dir)
