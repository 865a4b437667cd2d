"""What the Kubernetes API server does with a CRD schema, done here without one.

`as_json_schema` turns the OpenAPI dialect (`nullable`) into JSON Schema for `jsonschema`;
`apply_defaults` fills in `default`s the way the API server's structural defaulting does.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema

from runtime.programs.crd import crd_manifest
from runtime.programs.manifest_yaml import load_documents

EXAMPLES_DIR = Path(__file__).parents[2] / "examples" / "programs"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.yaml"))
EMPLOYEE_EXAMPLE = EXAMPLES_DIR / "employee-incentive.yaml"
RETAIL_EXAMPLE = EXAMPLES_DIR / "retail.yaml"


def open_api_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def as_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Where the CRD's own schema refuses `manifest`, as `spec.a.b[0]: message` strings."""
    validator = jsonschema.Draft202012Validator(
        as_json_schema(open_api_schema()), format_checker=jsonschema.FormatChecker()
    )
    found = []
    for error in validator.iter_errors(manifest):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        found.append(f"{path.lstrip('.')}: {error.message}")
    return found


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled in, recursively (as the API server does)."""
    if isinstance(value, dict):
        value = dict(value)
        for name, child in schema.get("properties", {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = apply_defaults(child, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            value = {key: apply_defaults(extra, item) for key, item in value.items()}
        return value
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def load_example(path: Path) -> dict[str, Any]:
    (document,) = load_documents(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document
