"""CompareCampaigns: each campaign of the program's current config over its window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.billing.adapters.campaign_repository import CampaignRepository
from services.billing.domain.campaigns import CampaignFigures, campaigns_of, chosen
from services.billing.service_layer.invoices import Billing


async def compare_campaigns(
    billing: Billing, campaign_ids: Sequence[str], now: datetime | None = None
) -> list[CampaignFigures]:
    now = now or datetime.now(UTC)
    repo = CampaignRepository(billing.uow.session, billing.program_id)
    out: list[CampaignFigures] = []
    for campaign in chosen(campaigns_of(billing.spec.earn.rules, now), campaign_ids):
        points, participants, others = await repo.compare(campaign.id, campaign.start, campaign.end)
        out.append(CampaignFigures(campaign, points, participants, others))
    return out
