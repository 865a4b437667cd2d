"""UUIDv7 ids: RFC 9562's layout, ordered by their millisecond, unique within one."""

from __future__ import annotations

import time
import uuid

from runtime.db.unit_of_work import new_id
from runtime.ids import uuid7
from services.accounts.domain.model import new_uuid

MOMENT_NS = 1_796_000_000_123_456_789  # 2026-11-30, a moment with sub-millisecond digits


def test_layout_is_version_7_rfc_variant_with_the_millisecond_first() -> None:
    made = uuid7(MOMENT_NS)
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert made.int >> 80 == MOMENT_NS // 1_000_000


def test_ids_of_later_milliseconds_sort_after_earlier_ones_as_text() -> None:
    made = [uuid7(MOMENT_NS + n * 1_000_000) for n in range(50)]
    assert sorted(str(u) for u in made) == [str(u) for u in made]
    assert sorted(u.hex for u in made) == [u.hex for u in made]


def test_ids_in_one_millisecond_differ() -> None:
    many = {uuid7(MOMENT_NS) for _ in range(10_000)}
    assert len(many) == 10_000


def test_default_moment_is_now() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_ledger_and_event_ids_are_time_ordered_in_their_usual_formats() -> None:
    ledger, event = uuid.UUID(new_uuid()), uuid.UUID(hex=new_id())
    assert ledger.version == event.version == 7
    assert len(new_uuid()) == 36
    assert len(new_id()) == 32
