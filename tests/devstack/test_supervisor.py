"""The supervisor tags output, restarts children that die, and stops stubborn ones."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tamaructl.supervisor import Child, RestartPolicy, Supervisor, run_step


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def eventually(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_step_output_is_tagged_and_exit_code_returned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await run_step("migrate", python("print('one'); print('two'); raise SystemExit(3)"), {})
    out = capsys.readouterr().out
    assert code == 3
    assert "[migrate] one\n" in out
    assert "[migrate] two\n" in out


async def test_step_that_overruns_is_stopped() -> None:
    code = await run_step("slow", python("import time; time.sleep(30)"), {}, timeout=0.5)
    assert code == 124


async def test_dying_child_is_restarted_then_given_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    code = f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(1)"
    policy = RestartPolicy(max_restarts=2, first_backoff=0.01)
    child = Child("flaky", python(code), {}, policy=policy)
    supervisor = Supervisor()
    await supervisor.start(child)
    try:
        await eventually(lambda: child.gave_up)
    finally:
        await supervisor.stop_all(grace=1)
    out = capsys.readouterr().out
    assert runs.read_text() == "xxx"  # the first run and two restarts
    assert "flaky exited with code 1; restarting" in out
    assert "gave up after 2 restarts" in out


async def test_stop_terminates_and_never_restarts(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code = f"import time; open({str(runs)!r}, 'a').write('x'); time.sleep(60)"
    child = Child("steady", python(code), {}, policy=RestartPolicy(first_backoff=0.01))
    await child.start()
    await eventually(lambda: runs.exists())
    assert await child.stop(grace=5) == -signal.SIGTERM
    await asyncio.sleep(0.2)
    assert runs.read_text() == "x"
    assert not child.running


async def test_child_ignoring_sigterm_is_killed_after_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(60)"
    )
    child = Child("stubborn", python(code), {})
    await child.start()
    await eventually(lambda: ready.exists())
    started = asyncio.get_running_loop().time()
    assert await child.stop(grace=0.3) == -signal.SIGKILL
    assert asyncio.get_running_loop().time() - started < 5


async def test_kill_all_does_not_wait_for_the_grace_period(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(60)"
    )
    supervisor = Supervisor()
    child = Child("stubborn", python(code), {})
    await supervisor.start(child)
    await eventually(lambda: ready.exists())
    started = asyncio.get_running_loop().time()
    supervisor.kill_all()
    await supervisor.stop_all(grace=30)
    assert asyncio.get_running_loop().time() - started < 5
    assert child.process is not None
    assert child.process.returncode == -signal.SIGKILL
