"""A program's API keys in a Kubernetes Secret: the operator's `KeyStore` (tamaructl keeps them in
a local file instead, tamaructl/keystore.py).

The Secret `<resource name>-api-keys` lives next to its ProgramConfig, one data key per role
(`admin`, `granter`, ...). It deliberately has no ownerReference to the ProgramConfig: deleting
the resource closes the program and keeps its data, and the keys are part of that data, so a
deleted and re-created ProgramConfig reopens the program with the keys its clients already have.
The `tamaru.dev/program-id` label ties the Secret to one program: a Secret of another program
is never reused (services refuse a key that belongs to two programs).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tamaru_operator.kube_api import KubeApi, KubeApiError

PROGRAM_LABEL = "tamaru.dev/program-id"
MANAGED_BY = {
    "app.kubernetes.io/managed-by": "tamaru-operator",
    "app.kubernetes.io/part-of": "tamaru",
}


def secret_name(resource_name: str) -> str:
    return f"{resource_name}-api-keys"


class SecretConflict(Exception):
    """The Secret exists but belongs to another program (or was not made by the operator)."""

    def __init__(self, namespace: str, name: str, owner: str | None, program_id: str) -> None:
        whose = f"program {owner!r}" if owner else "no Tamaru program (no tamaru.dev/program-id)"
        super().__init__(
            f"Secret {namespace}/{name} holds the API keys of {whose}, not of {program_id!r}; "
            "a program id never changes: use a new ProgramConfig for a new program, or delete "
            "the Secret if its program is gone for good"
        )


class SecretKeyStore:
    """`runtime.programs.publisher.KeyStore` over one Secret; remembers which roles it added.

    `ensure_keys` loads, then saves only when roles were missing: one store per reconcile.
    """

    def __init__(self, api: KubeApi, *, namespace: str, name: str) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.added_roles: list[str] = []
        self._loaded: set[str] | None = None  # roles found by the last load; None: no Secret

    @property
    def _collection(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/secrets"

    @property
    def _path(self) -> str:
        return f"{self._collection}/{self.name}"

    async def load(self, program_id: str) -> dict[str, str]:
        secret = await self.api.get(self._path)
        if secret is None:
            self._loaded = None
            return {}
        labels = (secret.get("metadata") or {}).get("labels") or {}
        owner = labels.get(PROGRAM_LABEL)
        if owner != program_id:
            raise SecretConflict(self.namespace, self.name, owner, program_id)
        keys = _decode(secret.get("data") or {})
        self._loaded = set(keys)
        return keys

    async def save(self, program_id: str, keys: dict[str, str]) -> None:
        data = {role: base64.b64encode(key.encode()).decode() for role, key in keys.items()}
        if self._loaded is None:
            await self._create(program_id, data)
            self.added_roles = sorted(keys)
        else:
            # A merge patch adds the new roles and leaves every other data key as it is.
            patch = {"metadata": _metadata(program_id), "data": data}
            await self.api.merge_patch(self._path, patch)
            self.added_roles = sorted(set(keys) - self._loaded)
        self._loaded = set(keys)

    async def _create(self, program_id: str, data: dict[str, str]) -> None:
        metadata = {"name": self.name, "namespace": self.namespace, **_metadata(program_id)}
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": metadata,
            "data": data,
        }
        try:
            await self.api.create(self._collection, body)
        except KubeApiError as exc:
            if exc.status == 409:
                # Someone made it since we looked: start over from what is there, rather than
                # overwrite keys that may already be handed out.
                raise SecretRace(f"Secret {self.namespace}/{self.name} appeared meanwhile") from exc
            raise


class SecretRace(Exception):
    """The Secret was created by someone else between our read and our create: retry."""


def _metadata(program_id: str) -> dict[str, Any]:
    return {
        "labels": {**MANAGED_BY, PROGRAM_LABEL: program_id},
        "annotations": {
            "tamaru.dev/description": "API keys of a Tamaru program, one per role; services only "
            "know their SHA-256 hashes. Kept when the ProgramConfig is deleted.",
        },
    }


def _decode(data: dict[str, Any]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for role, value in data.items():
        try:
            keys[role] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue  # not a key we wrote; ensure_keys makes a fresh one for a role it needs
    return keys
