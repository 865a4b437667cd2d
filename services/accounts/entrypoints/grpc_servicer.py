"""The AccountsService servicer, assembled from its parts (one file per area)."""

from __future__ import annotations

from runtime.service import ServiceContext
from services.accounts.adapters.card_keys import service_card_key
from services.accounts.entrypoints.grpc_bulk import BulkRpcs
from services.accounts.entrypoints.grpc_cards import CardRpcs
from services.accounts.entrypoints.grpc_groups import GroupRpcs
from services.accounts.entrypoints.grpc_identifiers import IdentifierRpcs
from services.accounts.entrypoints.grpc_ledger import LedgerRpcs
from services.accounts.entrypoints.grpc_members import MemberRpcs
from services.accounts.entrypoints.grpc_news import NewsRpcs
from services.accounts.entrypoints.grpc_tiers import TierRpcs
from tamaru.accounts.v1 import accounts_pb2_grpc


class AccountsServicer(
    LedgerRpcs,
    MemberRpcs,
    IdentifierRpcs,
    CardRpcs,
    GroupRpcs,
    NewsRpcs,
    TierRpcs,
    BulkRpcs,
    accounts_pb2_grpc.AccountsServiceServicer,
):
    """Every method is implemented by one of the parts (a test checks none is left to the
    generated base class, which would answer UNIMPLEMENTED)."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        # Read at start, so a production service without its key refuses to start.
        self.card_signing_key = service_card_key(ctx.settings.env)
