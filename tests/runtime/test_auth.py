"""API keys and the key ring: only hashes are kept, programs are swapped atomically and never
share a key."""

from __future__ import annotations

import hashlib
import re
import sys
import threading

import pytest

from runtime.auth import KeyRing, Principal, Role, generate_api_key, hash_api_key


def test_generated_keys_are_prefixed_random_and_distinct() -> None:
    keys = {generate_api_key("p1", Role.GRANTER) for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert re.fullmatch(r"tmr_granter_[A-Za-z0-9_-]{43}", key), key
    with pytest.raises(ValueError, match="program_id"):
        generate_api_key("", Role.ADMIN)


def test_hash_is_sha256_hex() -> None:
    assert hash_api_key("tmr_admin_abc") == hashlib.sha256(b"tmr_admin_abc").hexdigest()


def test_resolve_finds_the_program_and_role_of_a_key() -> None:
    key = generate_api_key("p1", Role.BACKEND)
    ring = KeyRing()
    ring.replace_program("p1", [(hash_api_key(key), Role.BACKEND, "k1")])
    assert ring.resolve(key) == Principal(program_id="p1", role=Role.BACKEND, key_id="k1")
    assert ring.resolve(key + "x") is None
    assert ring.resolve("") is None
    assert ring.programs() == {"p1"}


def test_replace_program_swaps_only_that_programs_keys() -> None:
    old, new, other = (generate_api_key("p", Role.ADMIN) for _ in range(3))
    ring = KeyRing()
    ring.replace_program("p1", [(hash_api_key(old), Role.ADMIN, "old")])
    ring.replace_program("p2", [(hash_api_key(other), Role.READONLY, "other")])
    ring.replace_program("p1", [(hash_api_key(new), Role.ADMIN, "new")])
    assert ring.resolve(old) is None
    resolved_new = ring.resolve(new)
    resolved_other = ring.resolve(other)
    assert resolved_new is not None
    assert resolved_new.key_id == "new"
    assert resolved_other is not None
    assert resolved_other.program_id == "p2"


def test_remove_program_revokes_all_its_keys_and_its_closed_flag() -> None:
    key, kept = generate_api_key("p1", Role.ADMIN), generate_api_key("p2", Role.ADMIN)
    ring = KeyRing()
    ring.replace_program("p1", [(hash_api_key(key), Role.ADMIN, "k")])
    ring.replace_program("p2", [(hash_api_key(kept), Role.ADMIN, "k2")])
    ring.set_closed("p1", True)
    ring.remove_program("p1")
    assert ring.resolve(key) is None
    assert ring.resolve(kept) is not None
    assert not ring.is_closed("p1")


def test_closed_flag_per_program() -> None:
    ring = KeyRing()
    ring.set_closed("p1", True)
    assert ring.is_closed("p1")
    assert not ring.is_closed("p2")
    ring.set_closed("p1", False)
    assert not ring.is_closed("p1")


def test_a_key_cannot_belong_to_two_programs() -> None:
    key_hash = hash_api_key(generate_api_key("p1", Role.ADMIN))
    ring = KeyRing()
    ring.replace_program("p1", [(key_hash, Role.ADMIN, "k")])
    with pytest.raises(ValueError, match="another program"):
        ring.replace_program("p2", [(key_hash, Role.ADMIN, "k")])
    # Nothing half-applied: p2 got no keys and p1 still owns the key.
    assert ring.programs() == {"p1"}


def test_plain_keys_are_refused_where_hashes_belong() -> None:
    ring = KeyRing()
    with pytest.raises(ValueError, match="hex SHA-256"):
        ring.replace_program("p1", [(generate_api_key("p1", Role.ADMIN), Role.ADMIN, "k")])


def test_readers_never_see_a_half_replaced_program() -> None:
    """A key present before and after every swap must resolve during all of them."""
    stable = generate_api_key("p1", Role.ADMIN)
    rotating = [generate_api_key("p1", Role.ADMIN) for _ in range(20)]
    ring = KeyRing()
    ring.replace_program("p1", [(hash_api_key(stable), Role.ADMIN, "stable")])
    misses = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal misses
        while not stop.is_set():
            if ring.resolve(stable) is None:
                misses += 1

    readers = [threading.Thread(target=read) for _ in range(4)]
    # Switch threads as often as possible, so readers land between any two writer statements.
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for reader in readers:
            reader.start()
        for _ in range(200):
            for key in rotating:
                ring.replace_program(
                    "p1",
                    [
                        (hash_api_key(stable), Role.ADMIN, "stable"),
                        (hash_api_key(key), Role.ADMIN, "r"),
                    ],
                )
    finally:
        stop.set()
        for reader in readers:
            reader.join()
        sys.setswitchinterval(previous_interval)
    assert misses == 0
    assert ring.resolve(rotating[-1]) is not None
    assert ring.resolve(rotating[0]) is None
