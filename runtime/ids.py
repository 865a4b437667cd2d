"""Ids for the rows a service writes at high rates: UUIDv7 (RFC 9562), time-ordered.

A random UUID (v4) lands on a random leaf of its primary-key index, so once a table's indexes
outgrow PostgreSQL's shared buffers every insert reads and dirties a page nobody touched for a
while, and the first change to each page after a checkpoint writes the whole page to the WAL
again. A v7 id starts with the current millisecond: new rows of one index go to its right edge,
whose pages stay in memory. The other 74 bits are random, so ids made in the same millisecond
(in any process) still do not collide.

Not for anything that must be unguessable (card tokens, codes: those come from `secrets`), nor
for ids whose creation time should stay private: a v7 id carries its millisecond in the clear.
Members keep random ids.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0b10 << 62
_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


def uuid7(now_ns: int | None = None) -> uuid.UUID:
    """A version 7 UUID for the time `now_ns` (nanoseconds since the epoch; default: now)."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    rand = int.from_bytes(os.urandom(10))
    value = (
        (ms & ((1 << 48) - 1)) << 80
        | _VERSION_7
        | ((rand >> 62) & _RAND_A) << 64
        | _VARIANT_RFC
        | (rand & _RAND_B)
    )
    return uuid.UUID(int=value)
