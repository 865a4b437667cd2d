"""Pure rules: the payment split, the draw, the saga's step order, the production gateway."""

from __future__ import annotations

import hashlib

import pytest

from runtime.config import Environment
from runtime.errors import FailedPrecondition
from services.redeem.adapters.payment_gateway import PaymentDeclined, UnconfiguredGateway
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.domain import lottery_draw, saga
from services.redeem.domain.payment_split import PaymentSplit, SelfPayRules, split_payment
from services.redeem.entrypoints.wiring import default_gateway

ON = SelfPayRules(enabled=True, yen_per_point=3)


def test_points_cover_the_total_or_the_card_pays_the_rest_in_yen() -> None:
    assert split_payment(1000, 5000, ON, has_token=False) == PaymentSplit(1000, 0)
    assert split_payment(1000, 800, ON, has_token=True) == PaymentSplit(800, 600)
    assert split_payment(1000, -50, ON, has_token=True) == PaymentSplit(0, 3000)
    with pytest.raises(FailedPrecondition) as caught:
        split_payment(1000, 800, SelfPayRules(enabled=False, yen_per_point=1), has_token=True)
    assert caught.value.reason == "INSUFFICIENT_POINTS"


def test_the_draw_is_the_documented_keyed_shuffle() -> None:
    seed = "00" * 31 + "01"
    entries = [f"e{i}" for i in range(10)]
    expected = sorted(
        entries, key=lambda e: hashlib.sha256(bytes.fromhex(seed) + e.encode()).hexdigest()
    )
    assert lottery_draw.shuffled(seed, list(reversed(entries))) == expected
    won = lottery_draw.winners(seed, entries, [("a", 2), ("b", 1)])
    assert [(w.entry_id, w.prize_sku, w.rank) for w in won] == [
        (expected[0], "a", 0),
        (expected[1], "a", 1),
        (expected[2], "b", 2),
    ]
    assert len(lottery_draw.winners(seed, entries[:1], [("a", 5)])) == 1
    assert lottery_draw.commitment(seed) == hashlib.sha256(bytes.fromhex(seed)).hexdigest()


def test_the_pivot_is_the_last_step_that_can_be_undone_by_refusal() -> None:
    assert saga.FORWARD_STEPS.index(saga.PIVOT) < saga.FORWARD_STEPS.index(saga.ISSUE_CODES)
    assert set(saga.UNDO) == {s for s in saga.FORWARD_STEPS if not saga.after_pivot(s)}


async def test_production_without_a_gateway_declines_every_card() -> None:
    assert isinstance(default_gateway(Environment.DEV), SandboxGateway)
    gateway = default_gateway(Environment.PROD)
    assert isinstance(gateway, UnconfiguredGateway)
    with pytest.raises(PaymentDeclined):
        await gateway.authorize("p-o", "tok_approve", 100)
