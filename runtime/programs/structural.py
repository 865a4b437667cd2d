"""Turns a pydantic JSON schema into a Kubernetes *structural* OpenAPI v3 schema.

Kubernetes accepts only a subset of JSON Schema in a CRD: no `$ref`, no `anyOf` for nullable
values (`nullable: true` instead), no `additionalProperties` beside `properties`, no `const`,
a `type` on every node. Anything else the converter meets is an error, so a new kind of field
in the spec cannot silently produce a CRD the API server would refuse.

Defaulting mirrors pydantic: an optional object field whose own fields are all optional gets
`default: {}`, so the API server fills in its leaves exactly as `ProgramSpec` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Output key order: what `kubectl explain` readers and diff reviewers see first comes first.
_ORDER = (
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "required",
    "items",
    "properties",
    "additionalProperties",
)
_COPIED = set(_ORDER) - {"items", "properties", "additionalProperties", "default", "nullable"}
_IGNORED = {"title", "$defs", "additionalProperties"}
_NULL = {"type": "null"}


class UnsupportedSchema(ValueError):
    """The JSON schema uses something a structural schema cannot say."""


def structural_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The structural form of a (pydantic) JSON schema whose `$ref`s point into its `$defs`."""
    return _Converter(schema.get("$defs", {})).convert(schema, "$")


class _Converter:
    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._defs = defs

    def convert(self, node: Mapping[str, Any], where: str) -> dict[str, Any]:
        flat = self._flatten(node, where)
        out: dict[str, Any] = {}
        for key, value in flat.items():
            if key in _COPIED or key.startswith("x-kubernetes-"):
                out[key] = value
            elif key == "const":
                out["enum"] = [value]
            elif key == "default":
                if value is not None:  # a null default is the absence of a value
                    out["default"] = value
            elif key == "nullable":
                out["nullable"] = bool(value)
            elif key == "items":
                out["items"] = self.convert(value, f"{where}[]")
            elif key == "properties":
                out["properties"] = self._properties(flat, where)
            elif key == "additionalProperties":
                # A map (dict[str, X]) keeps its value schema; `false` from extra="forbid"
                # is dropped: the API server prunes unknown fields instead.
                if isinstance(value, Mapping) and "properties" not in flat:
                    out["additionalProperties"] = self.convert(value, f"{where}{{}}")
            elif key not in _IGNORED:
                raise UnsupportedSchema(
                    f"{where}: JSON schema keyword {key!r} has no structural form"
                )
        if "type" not in out:
            raise UnsupportedSchema(f"{where}: a structural schema needs a type")
        if out.get("required") == []:
            del out["required"]
        return {key: out[key] for key in sorted(out, key=_rank)}

    def _properties(self, flat: Mapping[str, Any], where: str) -> dict[str, Any]:
        required = set(flat.get("required", []))
        properties: dict[str, Any] = {}
        for name, child in flat["properties"].items():
            converted = self.convert(child, f"{where}.{name}")
            if name not in required and _defaults_to_empty_object(converted):
                converted["default"] = {}
                converted = {key: converted[key] for key in sorted(converted, key=_rank)}
            properties[name] = converted
        return properties

    def _flatten(self, node: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Inline `$ref` and `anyOf: [X, null]`; the node's own keys win over the target's."""
        node = dict(node)
        base: dict[str, Any] = {}
        if "$ref" in node:
            base = self._flatten(self._resolve(node.pop("$ref"), where), where)
        elif "anyOf" in node:
            options = node.pop("anyOf")
            others = [option for option in options if option != _NULL]
            if len(others) != 1 or len(options) != 2:
                raise UnsupportedSchema(f"{where}: only `X | None` unions have a structural form")
            base = {**self._flatten(others[0], where), "nullable": True}
        return {**base, **node}

    def _resolve(self, ref: str, where: str) -> Mapping[str, Any]:
        prefix = "#/$defs/"
        if not ref.startswith(prefix) or ref[len(prefix) :] not in self._defs:
            raise UnsupportedSchema(f"{where}: cannot resolve $ref {ref!r}")
        target: Mapping[str, Any] = self._defs[ref[len(prefix) :]]
        return target


def _defaults_to_empty_object(node: Mapping[str, Any]) -> bool:
    return (
        node.get("type") == "object"
        and "properties" in node
        and "default" not in node
        and not node.get("nullable", False)
        and not node.get("required")
    )


def _rank(key: str) -> tuple[int, str]:
    return (_ORDER.index(key), "") if key in _ORDER else (len(_ORDER), key)
