"""A service that stops applying new revisions: Provisioning while it may still be catching up,
Degraded (drift) once the settle time has passed, Ready again when it catches up."""

from __future__ import annotations

import pytest

from tests.operator.cluster_double import KubeClient
from tests.operator.conftest import OperatorRun, ServiceSide
from tests.operator.expectations import (
    SPEC,
    conditions,
    events_with,
    eventually,
    wait_for_status,
)


@pytest.fixture
def operator_env() -> dict[str, str]:
    return {
        "TAMARU_OPERATOR_RECHECK_SECONDS": "1",
        "TAMARU_OPERATOR_REPORT_WAIT_SECONDS": "1",
        "TAMARU_OPERATOR_RETRY_DELAY_SECONDS": "0.5",
        "TAMARU_OPERATOR_SETTLE_SECONDS": "3",
    }


async def test_a_lagging_service_is_drift_after_the_settle_time(
    operator: OperatorRun, kube: KubeClient, service_side: ServiceSide, program_name: str
) -> None:
    await kube.create_program(program_name, SPEC)
    first = await wait_for_status(kube, program_name, phase="Ready", generation=1)

    await service_side.stop_watcher("catalog")
    try:
        await kube.patch_spec(program_name, {"pointName": "Moons"})
        waiting = await wait_for_status(kube, program_name, phase="Provisioning", generation=2)
        assert conditions(waiting)["CatalogReady"]["status"] == "Unknown"
        assert conditions(waiting)["CatalogReady"]["reason"] == "Pending"

        degraded = await wait_for_status(kube, program_name, phase="Degraded", generation=2)
        catalog = conditions(degraded)["CatalogReady"]
        assert (catalog["status"], catalog["reason"]) == ("False", "Outdated")
        assert f"revision {first['status']['revision']}" in catalog["message"]
        assert conditions(degraded)["Ready"]["reason"] == "Drift"
        assert degraded["status"]["readyServices"] == "4/5"
        await eventually(
            lambda: events_with(kube, program_name, {"Degraded", "NotApplied"}),
            what="Degraded and NotApplied events",
        )
    finally:
        await service_side.start_watcher("catalog")  # replays the latest revision

    ready = await wait_for_status(kube, program_name, phase="Ready", generation=2)
    assert conditions(ready)["CatalogReady"]["status"] == "True"
    assert ready["status"]["readyServices"] == "5/5"
