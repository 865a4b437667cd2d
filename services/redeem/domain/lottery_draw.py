"""The verifiable lottery draw, as anyone can recompute it.

1. At creation a random 32-byte seed is drawn; its commitment `sha256(seed)` (hex) is published.
2. At the draw the seed is revealed; anyone checks `sha256(seed) == commitment`.
3. The entry ids are sorted; each gets the score `sha256(seed || entry_id as UTF-8)` (hex);
   entries ordered by score (ties by entry id) are the shuffled order.
4. Prizes are handed out in the lottery's prize order: the first `count` entries of the
   shuffled order win the first prize, the next ones the second, and so on.
Since the seed was fixed before any entry and entries cannot be added after the draw, neither
the operator nor a member can steer the outcome without breaking the commitment.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Winner:
    entry_id: str
    prize_sku: str
    rank: int


def new_seed() -> str:
    return secrets.token_bytes(32).hex()


def commitment(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def shuffled(seed_hex: str, entry_ids: Sequence[str]) -> list[str]:
    seed = bytes.fromhex(seed_hex)

    def score(entry_id: str) -> tuple[str, str]:
        return hashlib.sha256(seed + entry_id.encode()).hexdigest(), entry_id

    return sorted(sorted(entry_ids), key=score)


def winners(
    seed_hex: str, entry_ids: Sequence[str], prizes: Sequence[tuple[str, int]]
) -> list[Winner]:
    order = shuffled(seed_hex, entry_ids)
    skus = [sku for sku, count in prizes for _ in range(count)]
    # Fewer entries than prizes: the prizes left over are not given out.
    pairs = zip(order, skus[: len(order)], strict=False)
    return [Winner(entry_id, sku, rank) for rank, (entry_id, sku) in enumerate(pairs)]
