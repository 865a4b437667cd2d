"""The committed CRD is exactly what the spec model derives, and the API server would take it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from runtime.programs.crd import CRD_PATH, crd_manifest, render_crd
from runtime.programs.crd_status import ProgramStatus, ServiceStatus, StatusCondition
from runtime.programs.structural import UnsupportedSchema, structural_schema
from tamaructl import crd as crd_command
from tests.programs.kube_schema import as_json_schema, open_api_schema, schema_errors

_FORBIDDEN = {"$ref", "$defs", "anyOf", "allOf", "oneOf", "not", "const", "uniqueItems", "title"}


def test_committed_crd_is_up_to_date() -> None:
    committed = CRD_PATH.read_text(encoding="utf-8") if CRD_PATH.exists() else ""
    assert committed == render_crd(), (
        f"{CRD_PATH} differs from the spec model: run `python -m tamaructl crd`"
    )


def test_crd_passes_the_kubernetes_schema() -> None:
    kubernetes_validate.validate(crd_manifest(), "1.32.0", strict=True)


def test_crd_names_and_columns() -> None:
    spec = crd_manifest()["spec"]
    assert spec["group"] == "tamaru.dev"
    assert spec["scope"] == "Namespaced"
    assert (spec["names"]["kind"], spec["names"]["plural"]) == ("ProgramConfig", "programconfigs")
    assert spec["names"]["shortNames"] == ["pc"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Phase": ".status.phase",
        "Point Name": ".spec.pointName",
        "Ready": ".status.readyServices",
        "Age": ".metadata.creationTimestamp",
    }


def _nodes(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += _nodes(child, f"{path}.{name}")
    if "items" in node:
        found += _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _nodes(node["additionalProperties"], f"{path}{{}}")
    return found


def test_schema_is_structural() -> None:
    nodes = _nodes(open_api_schema())
    assert len(nodes) > 150  # the walk reached the whole spec
    for path, node in nodes:
        assert "type" in node, path
        assert not _FORBIDDEN & node.keys(), path
        assert not ("properties" in node and "additionalProperties" in node), path
        documented = node.get("description") or path in {"", ".metadata", ".apiVersion", ".kind"}
        # A list's scalar items are explained by the list's own description.
        assert documented or (path.endswith("[]") and node["type"] != "object"), (
            f"{path} has no description for `kubectl explain`"
        )
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "map":
            keys = node["x-kubernetes-list-map-keys"]
            assert set(keys) <= set(node["items"].get("required", [])), path
        elif list_type == "set":
            assert node["items"]["type"] in {"string", "integer"}, path


def test_every_default_is_valid_for_its_own_schema() -> None:
    checked = 0
    for _path, node in _nodes(open_api_schema()):
        if "default" in node:
            schema = {key: value for key, value in node.items() if key != "default"}
            jsonschema.validate(node["default"], as_json_schema(schema))
            checked += 1
    assert checked > 40, "defaults went missing from the CRD"


def test_spec_schema_keeps_the_constraints() -> None:
    spec = open_api_schema()["properties"]["spec"]
    assert spec["required"] == ["displayName", "pointName"]  # programId defaults to the name
    criterion = spec["properties"]["grantCriteria"]["items"]["properties"]
    assert criterion["points"]["minimum"] == 1
    assert criterion["pointKind"]["nullable"] is True
    assert spec["properties"]["pointKinds"]["maxItems"] == 5
    assert spec["properties"]["currency"]["enum"] == ["JPY"]
    assert spec["properties"]["programId"]["pattern"].startswith("^[a-z0-9]")
    tiers = spec["properties"]["billing"]["properties"]["serviceFeeTiers"]
    assert tiers["default"][0] == {"upToIds": 100, "monthlyYen": 60000}


def test_status_written_by_the_operator_fits_the_schema() -> None:
    status = ProgramStatus(
        phase="Degraded",
        observed_generation=3,
        revision=12,
        secret_name="acme-rewards-api-keys",
        ready_services="4/5",
        services={
            "earn": ServiceStatus(ready=True, revision=12, generation=3),
            "billing": ServiceStatus(ready=False, revision=12, generation=3, message="boom"),
        },
        conditions=[
            StatusCondition(type="Ready", status="False", reason="ServiceFailed", message="billing")
        ],
    )
    patch = status.to_patch()
    assert patch["services"]["billing"]["message"] == "boom"
    assert patch["conditions"][0]["type"] == "Ready"
    manifest = {
        "apiVersion": "tamaru.dev/v1alpha1",
        "kind": "ProgramConfig",
        "metadata": {"name": "acme"},
        "spec": {"displayName": "D", "pointName": "P"},
        "status": patch,
    }
    assert schema_errors(manifest) == []
    manifest["status"] = {**patch, "phase": "Sleeping"}
    assert [e.split(":")[0] for e in schema_errors(manifest)] == ["status.phase"]


def test_converter_refuses_what_has_no_structural_form() -> None:
    class Mixed(BaseModel):
        value: int | str

    with pytest.raises(UnsupportedSchema, match=r"\$\.value: only `X \| None` unions"):
        structural_schema(Mixed.model_json_schema())


def test_crd_command_writes_checks_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "crds" / "programconfigs.tamaru.dev.yaml"
    assert crd_command.main(["--check", "-o", str(target)]) == 1
    assert "run `python -m tamaructl crd`" in capsys.readouterr().err
    assert crd_command.main(["-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_crd()
    assert crd_command.main(["--check", "-o", str(target)]) == 0
    target.write_text(render_crd().replace("maxItems: 5", "maxItems: 6"), encoding="utf-8")
    assert crd_command.main(["--check", "-o", str(target)]) == 1
    capsys.readouterr()
    assert crd_command.main(["-o", "-"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["metadata"]["name"] == "programconfigs.tamaru.dev"
