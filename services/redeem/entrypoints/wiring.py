"""How the redeem parts are put together for one running service (and, in tests, with a fault
plan, a shared sandbox gateway and shorter timings)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from runtime.config import Environment
from runtime.service import ServiceContext
from services.redeem.adapters.payment_gateway import PaymentGateway, UnconfiguredGateway
from services.redeem.adapters.remote import Accounts, Catalog
from services.redeem.adapters.sandbox_gateway import SandboxGateway
from services.redeem.service_layer.fault_plan import FaultPlan
from services.redeem.service_layer.saga_runner import SagaOptions, SagaRunner
from services.redeem.service_layer.saga_steps import OrderSteps

log = logging.getLogger(__name__)


@dataclass
class RedeemOptions:
    # None: the sandbox in development, UnconfiguredGateway in production (see docs/redeem.md).
    gateway: PaymentGateway | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    saga: SagaOptions = field(default_factory=SagaOptions)
    recovery_interval: float = 2.0  # see SagaOptions.lease


def default_gateway(env: Environment) -> PaymentGateway:
    """The sandbox in development; in production, until a real adapter is wired in here,
    a gateway that declines every payment (a sandbox token must never buy anything)."""
    if env is Environment.DEV:
        return SandboxGateway()
    log.warning("no payment gateway configured: self-pay card payments will be declined")
    return UnconfiguredGateway()


class Redeem:
    """The parts every entrypoint of one service instance shares."""

    def __init__(self, ctx: ServiceContext, options: RedeemOptions) -> None:
        self.ctx = ctx
        self.gateway = options.gateway or default_gateway(ctx.settings.env)
        self.runner = SagaRunner(
            ctx.uow,
            self.steps,
            faults=options.faults,
            options=options.saga,
        )

    def accounts(self, program_id: str) -> Accounts:
        return Accounts(self.ctx.commands, program_id)

    def catalog(self, program_id: str) -> Catalog:
        return Catalog(self.ctx.commands, program_id)

    def steps(self, program_id: str) -> OrderSteps:
        return OrderSteps(
            self.accounts(program_id),
            self.catalog(program_id),
            self.gateway,
            self.ctx.programs.spec(program_id),
        )
