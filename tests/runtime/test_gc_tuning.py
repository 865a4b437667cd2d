"""The service's garbage collector settings (runtime/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from runtime import gc_tuning
from runtime.config import Settings


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_a_service_collects_its_young_generation_less_often_by_default(
    restored_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAMARU_GC_YOUNG_THRESHOLD", raising=False)
    threshold = Settings().gc_young_threshold
    gc_tuning.tune(threshold)
    assert gc.get_threshold()[0] == gc_tuning.DEFAULT_YOUNG_THRESHOLD == threshold


def test_the_start_up_heap_is_frozen_out_of_full_collections(restored_gc: None) -> None:
    gc.unfreeze()
    kept = [object() for _ in range(10)]
    gc_tuning.freeze_startup_heap(gc_tuning.DEFAULT_YOUNG_THRESHOLD)
    assert gc.get_freeze_count() >= len(kept)


def test_zero_keeps_pythons_own_settings(restored_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    gc_tuning.tune(0)
    gc_tuning.freeze_startup_heap(0)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_a_negative_threshold_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAMARU_GC_YOUNG_THRESHOLD", "-1")
    with pytest.raises(ValidationError, match="gc_young_threshold"):
        Settings()
