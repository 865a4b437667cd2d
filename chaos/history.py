"""What the clients saw: every request with its idempotency key, attempts and outcome.

Outcomes follow Jepsen: `ok` (acknowledged), `fail` (a definite error: the server said no, so
the request must have left nothing), `info` (indeterminate: every attempt timed out or hit an
outage; it may or may not have taken effect, and is resolved after the run by replaying its
key).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from google.protobuf.message import Message


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass
class Op:
    op_id: int
    client: int
    program_id: str
    kind: str  # "grant", "transfer", "debit", "purchase", "thanks", "pos", "order", "cancel"
    key: str  # the idempotency key (or purchase / sale id that plays its part)
    request: Message  # exactly what was sent, so it can be replayed
    members: tuple[str, ...]  # account ids the op moves points of
    started: float  # seconds since the workload began
    ended: float = 0.0
    attempts: int = 0
    outcome: Outcome = Outcome.INFO
    code: str = ""  # gRPC status name of the last error
    reason: str = ""  # ErrorDetail.reason of the last error
    # What the acknowledgement named: ledger transaction ids, and ids of other records
    # (thanks ids, order id, discount id).
    tx_ids: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    retried_codes: list[str] = field(default_factory=list)  # codes that led to a retry
    resolved_after_run: bool = False  # an `info` op whose key was replayed after healing


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)

    def add(self, op: Op) -> None:
        self.ops.append(op)

    def by_outcome(self, outcome: Outcome) -> list[Op]:
        return [op for op in self.ops if op.outcome is outcome]

    def counts(self) -> Counter[tuple[str, str]]:
        """(kind, outcome) -> number of ops."""
        return Counter((op.kind, op.outcome.value) for op in self.ops)

    def retry_codes(self) -> Counter[str]:
        return Counter(code for op in self.ops for code in op.retried_codes)

    def fail_reasons(self) -> Counter[str]:
        return Counter(
            f"{op.kind}:{op.reason or op.code}" for op in self.ops if op.outcome is Outcome.FAIL
        )
