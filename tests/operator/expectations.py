"""What the operator tests wait for and look at: a program's status, its conditions, Events."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from tests.operator.cluster_double import KubeClient

T = TypeVar("T")

SPEC: dict[str, Any] = {
    "displayName": "Acme Rewards",
    "pointName": "Stars",
    "apiKeys": {"roles": ["admin", "backend"]},
    "grantCriteria": [{"id": "welcome", "name": "Welcome bonus", "points": 100}],
}


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: T | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


def conditions(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in resource.get("status", {}).get("conditions", [])}


async def wait_for_status(
    kube: KubeClient, name: str, *, phase: str, generation: int, timeout: float = 30.0
) -> dict[str, Any]:
    """The resource once its status shows `phase` for `generation`."""

    async def probe() -> dict[str, Any] | None:
        resource = await kube.program(name)
        status = (resource or {}).get("status", {})
        if status.get("phase") == phase and status.get("observedGeneration") == generation:
            return resource
        return None

    return await eventually(probe, timeout=timeout, what=f"{name} {phase} at {generation}")


async def events_with(kube: KubeClient, name: str, reasons: set[str]) -> list[dict[str, Any]]:
    """The resource's Events once all `reasons` are among them (else an empty list)."""
    events = await kube.events_for(name)
    return events if reasons <= {e.get("reason") for e in events} else []


async def reasons_of(kube: KubeClient, name: str) -> list[str]:
    return [str(e.get("reason")) for e in await kube.events_for(name)]
