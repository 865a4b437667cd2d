"""Composition root of the accounts service: members, identifiers, groups and the ledger."""

from pathlib import Path

from runtime.messaging.commands import CommandServer
from runtime.programs.spec import ProgramSpec
from runtime.service import ServiceContext, ServiceDefinition, Worker
from services.accounts.entrypoints.access_policy import POLICY, SERVICE
from services.accounts.entrypoints.grpc_servicer import AccountsServicer
from services.accounts.entrypoints.ledger_commands import LedgerCommands
from services.accounts.entrypoints.lookup_commands import LookupCommands
from services.accounts.entrypoints.news_worker import NewsAnnouncer
from services.accounts.entrypoints.sweeper_worker import LedgerSweeper
from services.accounts.entrypoints.tier_worker import TierRefresher
from tamaru.accounts.v1 import accounts_pb2_grpc


def _workers(ctx: ServiceContext) -> list[Worker]:
    def reminder_days() -> dict[str, int]:
        return {p.program_id: p.spec.expiring_soon_days for p in ctx.programs.all() if not p.closed}

    def open_programs() -> list[tuple[str, ProgramSpec]]:
        return [(p.program_id, p.spec) for p in ctx.programs.all() if not p.closed]

    return [
        LedgerSweeper(ctx.uow, reminder_days=reminder_days),
        NewsAnnouncer(ctx.uow),
        TierRefresher(ctx.uow, open_programs),
    ]


def _commands(ctx: ServiceContext, server: CommandServer) -> None:
    LedgerCommands(ctx).register(server)
    LookupCommands(ctx).register(server)


definition = ServiceDefinition(
    name="accounts",
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    grpc_service_names=[SERVICE.full_name],
    method_policy=POLICY,
    servicers=lambda ctx: [
        (accounts_pb2_grpc.add_AccountsServiceServicer_to_server, AccountsServicer(ctx))
    ],
    commands=_commands,
    workers=_workers,
)
