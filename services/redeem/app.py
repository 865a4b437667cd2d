"""Composition root of the redeem service: orders and their saga, POS discounts, lotteries."""

from __future__ import annotations

from pathlib import Path

from runtime.service import ServiceContext, ServiceDefinition, Servicers, Worker
from services.redeem.entrypoints.grpc_servicer import RedeemServicer
from services.redeem.entrypoints.policy import POLICY, SERVICE
from services.redeem.entrypoints.recovery_worker import SagaRecovery
from services.redeem.entrypoints.wiring import Redeem, RedeemOptions
from tamaru.redeem.v1 import redeem_pb2_grpc

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"


def make_definition(options: RedeemOptions | None = None) -> ServiceDefinition:
    """The redeem service; tests pass options (a fault plan, a sandbox gateway they inspect,
    short leases)."""
    options = options or RedeemOptions()
    # One set of parts per running service, shared by the gRPC servicer and the recovery
    # worker (they must see the same payment gateway).
    instances: dict[int, Redeem] = {}

    def redeem(ctx: ServiceContext) -> Redeem:
        if id(ctx) not in instances:
            instances[id(ctx)] = Redeem(ctx, options)
        return instances[id(ctx)]

    def servicers(ctx: ServiceContext) -> Servicers:
        return [
            (
                redeem_pb2_grpc.add_RedeemServiceServicer_to_server,
                RedeemServicer(redeem(ctx)),
            )
        ]

    def workers(ctx: ServiceContext) -> list[Worker]:
        def knows(program_id: str) -> bool:
            return any(p.program_id == program_id for p in ctx.programs.all())

        return [
            SagaRecovery(ctx.uow, redeem(ctx).runner, knows, interval=options.recovery_interval)
        ]

    return ServiceDefinition(
        name="redeem",
        migrations_dir=MIGRATIONS,
        grpc_service_names=[SERVICE.full_name],
        method_policy=POLICY,
        servicers=servicers,
        workers=workers,
    )


definition = make_definition()
