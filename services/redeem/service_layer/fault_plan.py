"""`FaultPlan`: a test aid that makes the order saga fail or "crash" at a named step.

Production runs with an empty plan (every check is a dictionary miss). Tests use it to prove
that a failure at any step is compensated and that a saga abandoned mid-way (as by a killed
process) is finished by the recovery worker. Step names are those of `domain.saga` (forward
steps and their undo steps, e.g. `release_hold`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.errors import FailedPrecondition, Unavailable


class InjectedFault(FailedPrecondition):
    """A failure the plan injected. `after`: the step's effect happened and its reply was lost,
    so compensation has to find and undo it."""

    def __init__(self, step: str, *, after: bool) -> None:
        when = "after" if after else "before"
        super().__init__(f"fault injected {when} step {step}", reason="INJECTED_FAULT")
        self.step = step
        self.after = after


class InjectedOutage(Unavailable):
    """The step's service "is not running": a reply that never came, which the saga retries
    (and, before the pivot, gives up on after `max_attempts`)."""

    def __init__(self, step: str) -> None:
        super().__init__(
            f"fault injected: no responder for step {step}", reason="SERVICE_UNAVAILABLE"
        )


class SimulatedCrash(Exception):
    """The process "dies" here: the saga stops without saving or undoing anything."""


@dataclass
class _Fault:
    times: int
    crash: bool
    outage: bool = False


@dataclass
class FaultPlan:
    _faults: dict[tuple[str, bool], _Fault] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)

    def fail(self, step: str, *, after: bool = False, times: int = 1) -> FaultPlan:
        self._faults[(step, after)] = _Fault(times, crash=False)
        return self

    def outage(self, step: str, *, times: int) -> FaultPlan:
        """The step's service is unreachable for its next `times` tries."""
        self._faults[(step, False)] = _Fault(times, crash=False, outage=True)
        return self

    def crash(self, step: str, *, after: bool = True) -> FaultPlan:
        self._faults[(step, after)] = _Fault(1, crash=True)
        return self

    def clear(self) -> None:
        self._faults.clear()
        self.fired.clear()

    def check(self, step: str, *, after: bool) -> None:
        fault = self._faults.get((step, after))
        if fault is None or fault.times <= 0:
            return
        fault.times -= 1
        kind = "crash" if fault.crash else "outage" if fault.outage else "fail"
        self.fired.append(f"{kind}:{step}:{after}")
        if fault.crash:
            raise SimulatedCrash(step)
        if fault.outage:
            raise InjectedOutage(step)
        raise InjectedFault(step, after=after)
