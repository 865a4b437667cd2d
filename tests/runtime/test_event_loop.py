"""The services' event loop choice (runtime/event_loop.py, `TAMARU_EVENT_LOOP`)."""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest
import uvloop
from pydantic import ValidationError

from runtime import event_loop
from runtime.config import Settings


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_is_the_default_and_runs_the_service_coroutine() -> None:
    assert Settings().event_loop == "uvloop"
    assert event_loop.run(_loop_type(), "uvloop") is uvloop.Loop


def test_asyncio_runs_the_standard_library_loop() -> None:
    loop_type = event_loop.run(_loop_type(), "asyncio")
    assert loop_type is not uvloop.Loop
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_without_uvloop_installed_the_service_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    with caplog.at_level(logging.WARNING, logger="runtime.event_loop"):
        loop_type = event_loop.run(_loop_type(), "uvloop")
    assert loop_type is not uvloop.Loop
    assert "uvloop is not installed" in caplog.text


def test_an_unknown_loop_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMARU_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError, match="event_loop"):
        Settings()
