"""Publishing a program's config and waiting for the services to apply it.

The one reconcile path: `tamaructl apply` calls it locally and the Kubernetes operator calls it
for each ProgramConfig resource. Keys are generated here when absent and handed to a `KeyStore`
(a local file for tamaructl, a Secret for the operator); only their hashes are published.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from runtime.auth import Role, generate_api_key, hash_api_key
from runtime.messaging.streams import PROGRAMS_BUCKET, STATUS_BUCKET, ensure_bucket
from runtime.programs.record import ApiKeyRef, ProgramRecord, status_key
from tamaru.common.v1 import common_pb2


class KeyStore(Protocol):
    """Where a program's plaintext API keys live (role -> key); services only see hashes."""

    async def load(self, program_id: str) -> dict[str, str]: ...

    async def save(self, program_id: str, keys: dict[str, str]) -> None: ...


@dataclass
class ApplyOutcome:
    program_id: str
    revision: int
    generation: int
    reports: dict[str, common_pb2.ConfigApplied] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def failed(self) -> dict[str, str]:
        return {s: r.error for s, r in self.reports.items() if not r.ok}

    @property
    def ready(self) -> bool:
        return not self.missing and not self.failed


async def ensure_keys(keystore: KeyStore, program_id: str, roles: Sequence[str]) -> dict[str, str]:
    keys = dict(await keystore.load(program_id))
    missing = [role for role in roles if role not in keys]
    for role in missing:
        keys[role] = generate_api_key(program_id, Role(role))
    if missing:
        await keystore.save(program_id, keys)
    return keys


async def current_record(js: JetStreamContext, program_id: str) -> tuple[ProgramRecord, int] | None:
    kv = await ensure_bucket(js, PROGRAMS_BUCKET)
    try:
        entry = await kv.get(program_id)
    except KeyNotFoundError:
        return None
    if entry.value is None:
        return None
    return ProgramRecord.from_bytes(entry.value), entry.revision or 0


async def publish_program(
    js: JetStreamContext,
    *,
    program_id: str,
    spec: dict[str, Any],
    keys: dict[str, str],
    closed: bool,
    generation: int | None = None,
) -> tuple[ProgramRecord, int]:
    """Put the program's record in the KV bucket; returns it and its revision.

    Without an explicit generation (tamaructl), the generation goes up by one when the spec
    or the closed flag changed, and an unchanged record is not re-published.
    """
    kv = await ensure_bucket(js, PROGRAMS_BUCKET)
    existing = await current_record(js, program_id)
    api_keys = [
        ApiKeyRef(key_id=f"{program_id}-{role}", role=role, key_hash=hash_api_key(key))
        for role, key in sorted(keys.items())
    ]
    if generation is None:
        generation = 1
        if existing is not None:
            old, revision = existing
            unchanged = old.spec == spec and old.closed == closed and old.api_keys == api_keys
            if unchanged:
                return old, revision
            generation = old.generation + 1
    record = ProgramRecord(
        program_id=program_id, generation=generation, spec=spec, api_keys=api_keys, closed=closed
    )
    revision = await kv.put(program_id, record.to_bytes())
    return record, revision


async def read_reports(
    js: JetStreamContext, program_id: str, services: Sequence[str]
) -> dict[str, common_pb2.ConfigApplied]:
    kv = await ensure_bucket(js, STATUS_BUCKET)
    reports: dict[str, common_pb2.ConfigApplied] = {}
    for service in services:
        try:
            entry = await kv.get(status_key(program_id, service))
        except KeyNotFoundError:
            continue
        if entry.value:
            reports[service] = common_pb2.ConfigApplied.FromString(entry.value)
    return reports


async def wait_for_reports(
    js: JetStreamContext,
    *,
    program_id: str,
    revision: int,
    generation: int,
    services: Sequence[str],
    timeout: float,
    poll_interval: float = 0.1,
) -> ApplyOutcome:
    """Wait until every service reported on `revision` (or a later one), or the timeout."""
    outcome = ApplyOutcome(program_id=program_id, revision=revision, generation=generation)
    deadline = time.monotonic() + timeout
    while True:
        reports = await read_reports(js, program_id, services)
        current = {s: r for s, r in reports.items() if r.revision >= revision}
        outcome.reports = current
        outcome.missing = [s for s in services if s not in current]
        if not outcome.missing or time.monotonic() >= deadline:
            return outcome
        await asyncio.sleep(poll_interval)
