"""Composition root of the catalog service: what it serves, consumes and runs."""

from pathlib import Path

from runtime.service import ServiceContext, ServiceDefinition, Servicers
from services.catalog.entrypoints.commands import CatalogCommands
from services.catalog.entrypoints.expiry_worker import ReservationExpiryWorker
from services.catalog.entrypoints.grpc_servicer import CatalogServicer
from services.catalog.entrypoints.policy import POLICY, SERVICE
from services.catalog.entrypoints.redemption_feed import redemption_feed
from tamaru.catalog.v1 import catalog_pb2_grpc


def servicers(ctx: ServiceContext) -> Servicers:
    return [(catalog_pb2_grpc.add_CatalogServiceServicer_to_server, CatalogServicer(ctx))]


definition = ServiceDefinition(
    name="catalog",
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    grpc_service_names=[SERVICE.full_name],
    method_policy=POLICY,
    servicers=servicers,
    commands=lambda ctx, server: CatalogCommands(ctx).register(server),
    consumers=lambda ctx: [redemption_feed(ctx)],
    workers=lambda ctx: [ReservationExpiryWorker(ctx.uow)],
)
