"""Which ProgramConfig runs which program: one claim per program id in a small KV bucket.

Two resources naming the same `spec.programId` would otherwise take turns publishing their own
spec and keys to one program (its clients' keys flapping between the two). The first resource to
publish claims the id atomically (KV create); any other one is refused as invalid. Deleting the
owner closes the program and then releases the claim, so a later resource may run it again.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from runtime.messaging.streams import ensure_bucket

CLAIMS_BUCKET = "tamaru_program_owners"


def owner_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


async def claim(js: JetStreamContext, program_id: str, owner: str) -> str | None:
    """Claim `program_id` for `owner`; returns the other owner when someone else holds it."""
    kv = await ensure_bucket(js, CLAIMS_BUCKET, history=1)
    try:
        await kv.create(program_id, owner.encode())
        return None
    except KeyWrongLastSequenceError:
        holder = await current_owner(js, program_id)
        if holder is None:  # released meanwhile: try again on the next reconcile
            return "(a resource releasing it)"
        return None if holder == owner else holder


async def current_owner(js: JetStreamContext, program_id: str) -> str | None:
    kv = await ensure_bucket(js, CLAIMS_BUCKET, history=1)
    try:
        entry = await kv.get(program_id)
    except KeyNotFoundError:
        return None
    return entry.value.decode() if entry.value else None


async def release(js: JetStreamContext, program_id: str, owner: str) -> None:
    """Give the program id up, if `owner` still holds it."""
    kv = await ensure_bucket(js, CLAIMS_BUCKET, history=1)
    try:
        entry = await kv.get(program_id)
    except KeyNotFoundError:
        return
    if entry.value and entry.value.decode() == owner:
        await kv.delete(program_id, last=entry.revision)
