"""`dev up` end to end, on a scratch project tree whose services, `apply` and demo are small
stand-in programs (the supervisor is under test here, not the services), against the session's
real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
from pathlib import Path

import pytest

from runtime.devstack import free_port, port_accepts
from tamaructl.dev import DevStack, up

FAKE_SERVICE = """
import asyncio, os, signal, sys
from pathlib import Path

log = Path(os.environ["FAKE_LOG"])
if sys.argv[1:] == ["migrate"]:
    with log.open("a") as f:
        f.write(f"migrate {os.environ['TAMARU_DATABASE_URL']} {os.environ['TAMARU_NATS_URL']}\\n")
    sys.exit(0)

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

async def main():
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"127.0.0.1:{os.environ['TAMARU_GRPC_PORT']}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    print("fake service serving", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)

asyncio.run(main())
"""

FAKE_CTL = """
import os, sys
from pathlib import Path

with Path(os.environ["FAKE_LOG"]).open("a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1] == "apply":
    sys.exit(int(os.environ.get("FAKE_APPLY_EXIT", "0")))
print("demo ran", flush=True)
sys.exit(7)
"""


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, nats_url: str
) -> Path:
    (tmp_path / "services" / "alpha").mkdir(parents=True)
    (tmp_path / "services" / "beta").mkdir(parents=True)  # no __main__.py: "not built yet"
    (tmp_path / "services" / "alpha" / "__main__.py").write_text(textwrap.dedent(FAKE_SERVICE))
    (tmp_path / "tamaructl").mkdir()
    # Regular packages, or the real ones (importable through the venv's .pth) would win.
    for package in ("services", "services/alpha", "services/beta", "tamaructl"):
        (tmp_path / package / "__init__.py").touch()
    (tmp_path / "tamaructl" / "__main__.py").write_text(textwrap.dedent(FAKE_CTL))
    (tmp_path / "examples" / "programs").mkdir(parents=True)
    (tmp_path / "examples" / "programs" / "one.yaml").write_text("kind: ProgramConfig\n")
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("TAMARU_DATABASE_URL", database_url)
    monkeypatch.setenv("TAMARU_NATS_URL", nats_url)
    return tmp_path


def stack_for(project: Path) -> DevStack:
    ports = {"alpha": free_port(), "beta": free_port()}
    return DevStack(root=project, services=("alpha", "beta"), ports=ports, health_timeout=20)


async def test_demo_only_runs_every_step_and_returns_the_demo_code(
    project: Path, database_url: str, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = stack_for(project)
    code = await up(stack, demo_only=True)
    out = capsys.readouterr().out
    assert code == 7
    assert (project / "log").read_text().splitlines() == [
        f"migrate {database_url} {nats_url}",
        f"apply -f {project / 'examples' / 'programs' / 'one.yaml'}",
        "demo",
    ]
    assert "beta: not built yet" in out
    assert "[alpha] fake service serving" in out
    assert "[demo] demo ran" in out
    assert "ready" in out
    assert "(from the environment)" in out.split("using PostgreSQL at", 1)[1].splitlines()[0]
    assert not port_accepts("127.0.0.1", stack.ports["alpha"])  # stopped on the way out
    assert not (project / ".tamaru").exists()  # nothing embedded was started


async def test_failed_apply_skips_the_demo_and_fails(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_APPLY_EXIT", "2")
    code = await up(stack_for(project), demo_only=True)
    out = capsys.readouterr().out
    assert code == 1
    assert "applying examples/programs/one.yaml failed (exit code 2)" in out
    assert "demo" not in (project / "log").read_text()


async def test_serves_until_sigterm_then_stops_children(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = stack_for(project)
    running = asyncio.create_task(up(stack, demo_only=False))
    seen = ""
    deadline = asyncio.get_running_loop().time() + 30
    while "serving until Ctrl-C" not in seen:
        assert asyncio.get_running_loop().time() < deadline, seen
        assert not running.done(), seen
        await asyncio.sleep(0.05)
        seen += capsys.readouterr().out
    assert port_accepts("127.0.0.1", stack.ports["alpha"])
    os.kill(os.getpid(), signal.SIGTERM)  # what `docker stop` or a CI runner would send
    assert await asyncio.wait_for(running, timeout=20) == 0
    assert not port_accepts("127.0.0.1", stack.ports["alpha"])
    assert all(not child.running for child in stack.supervisor.children)
