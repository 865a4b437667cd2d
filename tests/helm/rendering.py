"""Render the Tamaru chart offline (helm-python-sdk, no `helm` binary, no cluster) and look
objects up in the result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "tamaru"
PRODUCTION_VALUES = CHART_DIR / "values-production.yaml"
SERVICES = ("accounts", "earn", "redeem", "catalog", "billing")
RELEASE = "tamaru"
NAMESPACE = "loyalty"

Manifest = dict[str, Any]


@contextmanager
def loaded_chart() -> Iterator[Chart]:
    chart = Chart.load(CHART_DIR)
    try:
        yield chart
    finally:
        chart.close()


def production_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(PRODUCTION_VALUES.read_text())
    return values


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`-f base.yaml -f over.yaml`, as Helm layers values files."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def render(
    chart: Chart,
    values: dict[str, Any] | None = None,
    *,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[Manifest]:
    """Every object the templates produce (NOTES.txt and empty documents left out)."""
    rendered = chart.render(values or {}, name=name, namespace=namespace)
    objects: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append(doc)
    return objects


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [o for o in of_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def component(obj: Manifest) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def service_deployments(objects: list[Manifest]) -> dict[str, Manifest]:
    return {component(d): d for d in of_kind(objects, "Deployment") if component(d) in SERVICES}


def container(workload: Manifest) -> Manifest:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Manifest = containers[0]
    return result


def env_of(workload: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container(workload).get("env", [])}
