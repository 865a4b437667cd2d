"""API keys, roles and the in-memory key ring every gRPC server checks callers against.

Pure Python, no I/O: the key ring is filled from program config (operator-made Secrets hold the
plain keys; services only ever see and keep their hashes) and read on every call.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

API_KEY_PREFIX = "tmr_"


class Role(StrEnum):
    """What an API key may do; each gRPC method lists the roles allowed to call it."""

    ADMIN = "admin"
    # May only grant points (e.g. a POS or a sponsor's batch job).
    GRANTER = "granter"
    BACKEND = "backend"
    READONLY = "readonly"
    # The operator and platform tooling, never a program's own clients.
    PLATFORM = "platform"


@dataclass(frozen=True)
class Principal:
    """The caller behind an API key: every query it makes is scoped to `program_id`."""

    program_id: str
    role: Role
    # Identifies the key (for audit logs and revocation) without revealing it.
    key_id: str


def hash_api_key(token: str) -> str:
    """The stored form of an API key: SHA-256, hex.

    A fast hash is right here, unlike for passwords: keys are 256-bit random tokens, so there is
    no dictionary to try and brute force over the hash is infeasible however fast it is. A slow
    hash (bcrypt, argon2) would only add milliseconds of CPU to every single RPC.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_api_key(program_id: str, role: Role) -> str:
    """A new random API key for `program_id`, e.g. `tmr_backend_Zk3...` (43 random characters).

    The role is in the key only so people can tell keys apart; the key ring, not the text, says
    which program and role a key has. The program id is deliberately not embedded, so a leaked
    key does not reveal whose it is.
    """
    if not program_id:
        raise ValueError("program_id must not be empty")
    return f"{API_KEY_PREFIX}{Role(role).value}_{secrets.token_urlsafe(32)}"


class KeyRing:
    """Key hash -> Principal for every program this process serves, plus closed programs.

    Safe to read from any thread or task while another replaces a program's keys: writers build a
    new map under a lock and swap it in whole (copy on write), so a reader sees either all of a
    program's old keys or all of its new ones, never a mix. Writes are rare (config changes),
    reads happen on every RPC.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: Mapping[str, Principal] = MappingProxyType({})
        self._closed: frozenset[str] = frozenset()

    def replace_program(self, program_id: str, keys: Iterable[tuple[str, Role, str]]) -> None:
        """Make `keys` (key_hash, role, key_id) the only keys of `program_id`."""
        if not program_id:
            raise ValueError("program_id must not be empty")
        new_keys: dict[str, Principal] = {}
        for key_hash, role, key_id in keys:
            _check_hash(key_hash)
            new_keys[key_hash] = Principal(program_id=program_id, role=Role(role), key_id=key_id)
        with self._lock:
            for key_hash in new_keys:
                owner = self._by_hash.get(key_hash)
                if owner is not None and owner.program_id != program_id:
                    # One key opening two programs would break tenant isolation.
                    raise ValueError(
                        f"key {new_keys[key_hash].key_id!r} already belongs to another program"
                    )
            merged = {h: p for h, p in self._by_hash.items() if p.program_id != program_id}
            merged.update(new_keys)
            self._by_hash = MappingProxyType(merged)

    def remove_program(self, program_id: str) -> None:
        """Forget every key of `program_id` (its callers get UNAUTHENTICATED from now on)."""
        with self._lock:
            self._by_hash = MappingProxyType(
                {h: p for h, p in self._by_hash.items() if p.program_id != program_id}
            )
            self._closed = self._closed - {program_id}

    def resolve(self, token: str) -> Principal | None:
        """The caller a presented API key belongs to, or None for an unknown key.

        Looking up by hash leaks no useful timing: an attacker learning how a hash compares
        still cannot find a token that produces it.
        """
        if not token:
            return None
        return self._by_hash.get(hash_api_key(token))

    def set_closed(self, program_id: str, closed: bool) -> None:
        with self._lock:
            if closed:
                self._closed = self._closed | {program_id}
            else:
                self._closed = self._closed - {program_id}

    def is_closed(self, program_id: str) -> bool:
        return program_id in self._closed

    def programs(self) -> frozenset[str]:
        """Programs that have at least one key."""
        return frozenset(p.program_id for p in self._by_hash.values())


def _check_hash(key_hash: str) -> None:
    # A plain key stored where its hash belongs would never match and would sit in memory.
    if len(key_hash) != 64 or any(c not in "0123456789abcdef" for c in key_hash):
        raise ValueError("key_hash must be a lowercase hex SHA-256 digest (see hash_api_key)")
