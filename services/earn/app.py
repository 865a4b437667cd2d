"""Composition root of the earn service: grants, purchases, behaviours, offers, thanks."""

from pathlib import Path

from runtime.service import ServiceContext, ServiceDefinition, Servicers
from services.earn.adapters.revisions import RevisionCache, store_revision
from services.earn.entrypoints.access_policy import POLICY, SERVICE
from services.earn.entrypoints.grpc_servicer import EarnServicer
from services.earn.service_layer.deps import EarnDeps
from tamaru.earn.v1 import earn_pb2_grpc


def _servicers(ctx: ServiceContext) -> Servicers:
    deps = EarnDeps(programs=ctx.programs, commands=ctx.commands, revisions=RevisionCache())
    return [(earn_pb2_grpc.add_EarnServiceServicer_to_server, EarnServicer(ctx, deps))]


definition = ServiceDefinition(
    name="earn",
    migrations_dir=Path(__file__).parent / "adapters" / "migrations",
    grpc_service_names=[SERVICE.full_name],
    method_policy=POLICY,
    servicers=_servicers,
    # Every config generation is kept, so events are scored by the rules of their own time.
    apply_hook=lambda ctx: store_revision,
)
