"""GroupCommit's leader/follower protocol, with plain coroutines for the usual path and the
batch (no database: the accounts tests cover grouped credits end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import pytest

from runtime.group_commit import SOLO, GroupCommit, Outcome


class Recorder:
    """A usual path and a batch runner that record what they ran; `gate` holds the usual
    path of the first request in flight until the test opens it."""

    def __init__(self) -> None:
        self.alone: list[int] = []
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.solo_for: set[int] = set()
        self.fail = False
        self.batch_gate: asyncio.Event | None = None
        self.in_flight = 0
        self.most_in_flight = 0

    def _enter(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def path(self, item: int) -> Callable[[], Awaitable[str]]:
        async def alone() -> str:
            self._enter()
            await self.gate.wait()
            await asyncio.sleep(0)
            self.in_flight -= 1
            self.alone.append(item)
            return f"alone {item}"

        return alone

    async def run_batch(self, group: str, items: Sequence[int]) -> list[Outcome[str]]:
        self._enter()
        try:
            if self.batch_gate is not None:
                await self.batch_gate.wait()
            await asyncio.sleep(0)
            if self.fail:
                raise RuntimeError("the batch's transaction failed")
        finally:
            self.in_flight -= 1
        self.batches.append(list(items))
        return [SOLO if i in self.solo_for else f"batch {i} of {group}" for i in items]


async def submit_all(
    commit: GroupCommit[str, int, str], rec: Recorder, items: list[int], group: str = "p"
) -> list[asyncio.Task[str]]:
    tasks = [asyncio.create_task(commit.submit(group, i, rec.path(i))) for i in items]
    await asyncio.sleep(0)  # every task has started: the first is in flight, the rest queued
    return tasks


async def test_an_idle_group_runs_the_request_alone_at_once() -> None:
    rec = Recorder()
    rec.gate.set()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    assert await commit.submit("p", 1, rec.path(1)) == "alone 1"
    assert rec.alone == [1]
    assert rec.batches == []
    assert commit.batches == 0


async def test_requests_queued_behind_one_in_flight_run_as_one_batch() -> None:
    rec = Recorder()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    tasks = await submit_all(commit, rec, [1, 2, 3, 4])
    rec.gate.set()
    assert await asyncio.gather(*tasks) == [
        "alone 1",
        "batch 2 of p",
        "batch 3 of p",
        "batch 4 of p",
    ]
    assert rec.batches == [[2, 3, 4]]
    assert commit.batches == 1


async def test_groups_do_not_wait_for_each_other() -> None:
    rec = Recorder()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    first = await submit_all(commit, rec, [1, 2], group="p")
    other = await submit_all(commit, rec, [3], group="q")
    rec.gate.set()
    assert await asyncio.gather(*first, *other) == ["alone 1", "alone 2", "alone 3"]


async def test_batches_take_at_most_max_batch_and_the_next_leader_takes_the_rest() -> None:
    rec = Recorder()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch, max_batch=3)
    tasks = await submit_all(commit, rec, list(range(1, 9)))
    rec.gate.set()
    results = await asyncio.gather(*tasks)
    assert rec.batches == [[2, 3, 4], [5, 6, 7]]
    assert results[-1] == "alone 8"  # the last one found nobody to batch with
    assert results[1:7] == [f"batch {i} of p" for i in range(2, 8)]


async def test_solo_items_and_failed_batches_fall_back_to_the_usual_path() -> None:
    rec = Recorder()
    rec.solo_for = {3}
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    tasks = await submit_all(commit, rec, [1, 2, 3, 4])
    rec.gate.set()
    assert await asyncio.gather(*tasks) == ["alone 1", "batch 2 of p", "alone 3", "batch 4 of p"]

    rec.fail = True
    rec.gate.clear()
    tasks = await submit_all(commit, rec, [5, 6, 7])
    rec.gate.set()
    assert await asyncio.gather(*tasks) == ["alone 5", "alone 6", "alone 7"]


async def test_a_cancelled_follower_leaves_the_queue_and_the_rest_go_on() -> None:
    rec = Recorder()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    tasks = await submit_all(commit, rec, [1, 2, 3, 4])
    tasks[2].cancel()
    rec.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await tasks[2]
    assert list(await asyncio.gather(tasks[0], tasks[1], tasks[3])) == [
        "alone 1",
        "batch 2 of p",
        "batch 4 of p",
    ]
    assert rec.batches == [[2, 4]]


async def test_a_leader_cancelled_mid_batch_sends_its_followers_down_the_usual_path() -> None:
    rec = Recorder()
    rec.batch_gate = asyncio.Event()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch)
    tasks = await submit_all(commit, rec, [1, 2, 3, 4])
    rec.gate.set()
    assert await tasks[0] == "alone 1"
    await asyncio.sleep(0)  # task 2 now leads a batch that waits at batch_gate
    tasks[1].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[1]
    assert list(await asyncio.gather(tasks[2], tasks[3])) == ["alone 3", "alone 4"]
    # The group is idle again: the next request runs alone at once.
    assert await commit.submit("p", 5, rec.path(5)) == "alone 5"


async def test_two_committers_per_group_run_side_by_side_and_never_more() -> None:
    rec = Recorder()
    commit: GroupCommit[str, int, str] = GroupCommit(rec.run_batch, committers=2)
    tasks = await submit_all(commit, rec, list(range(1, 21)))
    assert rec.in_flight == 2  # 1 and 2 alone at once; the rest queued
    rec.gate.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results) == sorted(
        [f"alone {i}" for i in rec.alone] + [f"batch {i} of p" for b in rec.batches for i in b]
    )
    assert sorted([*rec.alone, *(i for b in rec.batches for i in b)]) == list(range(1, 21))
    assert rec.most_in_flight == 2
    assert rec.batches  # the queue was taken in batches
