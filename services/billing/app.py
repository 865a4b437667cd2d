"""Composition root of the billing service: what it serves, consumes and runs."""

from pathlib import Path

from runtime.service import ServiceContext, ServiceDefinition, Servicers
from services.billing.entrypoints.access_policy import POLICY, SERVICE
from services.billing.entrypoints.consumers import (
    accounts_consumer,
    earn_consumer,
    redeem_consumer,
)
from services.billing.entrypoints.grpc_servicer import BillingServicer
from services.billing.entrypoints.issuer_settings import load_issuer
from services.billing.entrypoints.parked_worker import ParkedEventsWorker
from services.billing.service_layer.config_hook import apply_program
from tamaru.billing.v1 import billing_pb2_grpc


def servicers(ctx: ServiceContext) -> Servicers:
    servicer = BillingServicer(ctx, load_issuer())
    return [(billing_pb2_grpc.add_BillingServiceServicer_to_server, servicer)]


definition = ServiceDefinition(
    name="billing",
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    grpc_service_names=[SERVICE.full_name],
    method_policy=POLICY,
    servicers=servicers,
    consumers=lambda ctx: [accounts_consumer(ctx), redeem_consumer(ctx), earn_consumer(ctx)],
    workers=lambda ctx: [ParkedEventsWorker(ctx)],
    apply_hook=lambda ctx: apply_program,
)
