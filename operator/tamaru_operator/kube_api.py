"""A tiny Kubernetes API client for what kopf does not do for us: reading and writing Secrets.

It authenticates with the same `kopf.ConnectionInfo` kopf itself uses (the operator's login
handler hands it over), so the in-cluster service account or the kubeconfig is resolved once,
the kopf way. Request and response bodies are never logged: Secrets pass through here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import kopf

MERGE_PATCH = "application/merge-patch+json"


class KubeUnavailable(Exception):
    """The API server could not be reached, or we have no credentials yet: retry later."""


class KubeApiError(Exception):
    """The API server refused a request (403 for missing RBAC, 422 for a bad body, ...)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason


class KubeApi:
    def __init__(self, *, timeout: float = 10.0) -> None:
        self._info: kopf.ConnectionInfo | None = None
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def use(self, info: kopf.ConnectionInfo) -> None:
        """Authenticate with `info` from now on (called by the login handler, also on re-login)."""
        self._info = info
        old, self._session = self._session, None
        if old is not None:
            asyncio.get_running_loop().create_task(old.close())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, path: str) -> dict[str, Any] | None:
        """The object at `path`, or None when it does not exist."""
        return await self._request("GET", path, missing_ok=True)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result = await self._request("POST", path, body=body)
        assert result is not None
        return result

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result = await self._request("PATCH", path, body=body, content_type=MERGE_PATCH)
        assert result is not None
        return result

    def _session_for(self, info: kopf.ConnectionInfo) -> aiohttp.ClientSession:
        if self._session is None:
            secure = info.server.startswith("https:")
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=info.as_ssl_context() if secure else False),
                headers=info.as_http_headers(),
                timeout=self._timeout,
                trust_env=info.trust_env,
                proxy=info.proxy_url,
            )
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        info = self._info
        if info is None:
            raise KubeUnavailable("no Kubernetes credentials yet (login has not finished)")
        session = self._session_for(info)
        url = info.server.rstrip("/") + path
        headers = {"Content-Type": content_type} if body is not None else {}
        try:
            async with session.request(method, url, json=body, headers=headers) as response:
                if missing_ok and response.status == 404:
                    return None
                payload = await _json_or_empty(response)
                if response.status >= 400:
                    raise KubeApiError(
                        response.status,
                        str(payload.get("reason") or response.reason or ""),
                        str(payload.get("message") or ""),
                    )
                return payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeUnavailable(f"{method} {path}: {exc or type(exc).__name__}") from exc


async def _json_or_empty(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
