"""A Kubernetes API for the operator tests: kmock's emulator, taught the few things a real API
server does that the operator relies on (generateName, uid, generation), plus a small client."""

from __future__ import annotations

import itertools
import secrets
import uuid
from typing import Any

import aiohttp
import kmock

from runtime.programs.crd import API_VERSION, GROUP, KIND, PLURAL, VERSION

PROGRAMS = f"{GROUP}/{VERSION}/{PLURAL}"
NAMESPACE = "default"


class ApiServerDouble(kmock.KubernetesEmulator):
    """kmock stores objects as given; a real API server names `generateName` objects (kopf's
    Events), stamps uid, generation and resourceVersion (kopf's JSON patches test it), and bumps
    generation when the spec changes."""

    _versions = itertools.count(1)

    async def _handle(self, request: kmock.Request) -> Any:
        data = request.data
        version = str(next(self._versions))
        if request.action == kmock.action.CREATE and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(4)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("generation", 1)
            meta["resourceVersion"] = version
        elif request.action == kmock.action.UPDATE and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            meta["resourceVersion"] = version
            if request.subresource is None and "spec" in data:
                meta.update(self._next_generation(request, data["spec"]))
        elif request.action == kmock.action.UPDATE and isinstance(data, list):
            self._check_version_tests(request, data)
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": version})
        return await super()._handle(request)

    def _check_version_tests(self, request: kmock.Request, ops: list[dict[str, Any]]) -> None:
        # kopf guards its JSON patches with a resourceVersion test; a real API server answers a
        # failed test with 422, which kopf takes as "newer changes pending, retry next cycle".
        stored = self._stored(request)
        if stored is None:
            return
        current = (stored.get("metadata") or {}).get("resourceVersion")
        stale = [
            op
            for op in ops
            if op.get("op") == "test"
            and op.get("path") == "/metadata/resourceVersion"
            and op.get("value") != current
        ]
        if stale:
            raise kmock.KubernetesError(
                status=422, reason="Invalid", message="the object has been modified"
            )

    def _stored(self, request: kmock.Request) -> kmock.Object | None:
        """The live object a request addresses, if any."""
        if request.resource is None or request.name is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        stored: kmock.Object = self.objects[key]
        return stored

    def _next_generation(self, request: kmock.Request, spec: dict[str, Any]) -> dict[str, int]:
        current = self._stored(request)
        if current is None:
            return {}
        old_spec = dict(current.get("spec") or {})
        if all(old_spec.get(field) == value for field, value in spec.items()):
            return {}
        generation = (current.get("metadata") or {}).get("generation") or 1
        return {"generation": generation + 1}


def declare_resources(api: kmock.KubernetesEmulator) -> None:
    # kopf discovers what it watches and where Events go; without namespaces and events it
    # never starts watching.
    api.resources[PROGRAMS] = kmock.ResourceInfo(
        kind=KIND,
        singular="programconfig",
        namespaced=True,
        subresources={"status"},
        verbs={"list", "watch", "get", "patch", "create", "delete"},
    )
    api.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
    )
    api.resources["v1/events"] = kmock.ResourceInfo(
        kind="Event", namespaced=True, verbs={"create", "list"}
    )
    api.resources["v1/secrets"] = kmock.ResourceInfo(
        kind="Secret", namespaced=True, verbs={"get", "create", "patch", "list"}
    )


class KubeClient:
    """What `kubectl` would do in these tests, over HTTP against the double."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _program_path(self, name: str | None = None) -> str:
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
        return f"{path}/{name}" if name else path

    async def _call(
        self, method: str, path: str, body: Any = None, *, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base_url + path, json=body, headers=headers) as resp,
        ):
            if missing_ok and resp.status == 404:
                return None
            assert resp.status < 400, f"{method} {path}: {resp.status} {await resp.text()}"
            data: dict[str, Any] = await resp.json(content_type=None)
            return data

    async def create_program(self, name: str, spec: dict[str, Any]) -> None:
        body = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }
        await self._call("POST", self._program_path(), body)

    async def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        await self._call("PATCH", self._program_path(name), {"spec": spec})

    async def delete_program(self, name: str) -> None:
        await self._call("DELETE", self._program_path(name))

    async def program(self, name: str) -> dict[str, Any] | None:
        return await self._call("GET", self._program_path(name), missing_ok=True)

    async def secret(self, name: str) -> dict[str, Any] | None:
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}"
        return await self._call("GET", path, missing_ok=True)

    async def patch_secret(self, name: str, patch: dict[str, Any]) -> None:
        await self._call("PATCH", f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}", patch)

    async def events_for(self, name: str) -> list[dict[str, Any]]:
        listing = await self._call("GET", f"/api/v1/namespaces/{NAMESPACE}/events")
        assert listing is not None
        items: list[dict[str, Any]] = listing.get("items", [])
        return [e for e in items if (e.get("involvedObject") or {}).get("name") == name]
