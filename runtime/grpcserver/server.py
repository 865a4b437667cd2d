"""Start a service's gRPC server the same way everywhere, and stop it without dropping calls.

Every server gets: OpenTelemetry server spans (children of the caller's span), the Tamaru
interceptor (logging, error mapping, API-key auth), the standard health service (what the
Kubernetes probes call) and reflection (so grpcurl works without .proto files).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.trace import TracerProvider

from runtime.auth import KeyRing
from runtime.grpcserver.interceptors import TamaruServerInterceptor
from runtime.grpcserver.policy import MethodPolicy

logger = logging.getLogger("tamaru.grpc.server")

# A generated `add_<Service>Servicer_to_server(servicer, server)` function.
AddServicerFn = Callable[[Any, Any], None]

HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# The liveness probe's health name: SERVING while the process answers at all. Readiness ("")
# also follows dependencies (the NATS link); a liveness probe that did too would restart every
# pod during a broker outage and slow the recovery down with crash-loop back-offs.
LIVENESS_NAME = "tamaru.liveness"


@dataclass
class RunningServer:
    service_name: str
    server: grpc.aio.Server
    # The bound port (the real one when 0 was asked for).
    port: int
    health: HealthServicer
    health_names: tuple[str, ...]

    async def set_serving(self, serving: bool) -> None:
        """Report the whole server (and each service) ready or not, e.g. while a dependency is
        down. Ignored once stop() has begun."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.health_names):
            await self.health.set(name, status)

    async def stop(self, grace: float | None, *, drain_delay: float = 0.0) -> None:
        """Report NOT_SERVING, then stop: refuse new calls and let in-flight ones finish for up
        to `grace` seconds before cancelling them.

        `drain_delay` waits between the two so load balancers (Kubernetes readiness probes) can
        stop sending calls here before the port closes.
        """
        logger.info("stopping %s gRPC server (grace %ss)", self.service_name, grace)
        await self.health.enter_graceful_shutdown()
        if drain_delay > 0:
            await asyncio.sleep(drain_delay)
        await self.server.stop(grace)
        logger.info("%s gRPC server stopped", self.service_name)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


async def start_server(
    *,
    service_name: str,
    port: int,
    host: str = "0.0.0.0",
    servicers: Sequence[tuple[AddServicerFn, Any]],
    policy: MethodPolicy,
    keyring: KeyRing,
    service_names_for_reflection: Sequence[str] = (),
    health_names: Sequence[str] = (),
    tracer_provider: TracerProvider | None = None,
    credentials: grpc.ServerCredentials | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> RunningServer:
    """Build, bind and start the server; returns once it accepts calls.

    `servicers` pairs each generated add function with its servicer instance;
    `service_names_for_reflection` and `health_names` are full service names
    (`accounts_pb2.DESCRIPTOR.services_by_name["AccountsService"].full_name`).
    `tracer_provider` defaults to the global one; `credentials` switches to TLS.
    """
    interceptors = [
        # Outermost, so the server span (joined to the caller's trace) is current for the rest.
        aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=tracer_provider, filter_=_not_health_checks()
        ),
        TamaruServerInterceptor(policy, keyring),
    ]
    server = grpc.aio.server(interceptors=interceptors, options=list(options))
    for add_servicer, servicer in servicers:
        add_servicer(servicer, server)

    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [*service_names_for_reflection, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME], server
    )

    address = f"{host}:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    if not bound:
        raise OSError(f"{service_name}: could not listen on {address}")

    await server.start()
    running = RunningServer(
        service_name=service_name,
        server=server,
        port=int(bound),
        health=health,
        health_names=tuple(health_names),
    )
    await running.set_serving(True)
    await health.set(LIVENESS_NAME, health_pb2.HealthCheckResponse.SERVING)
    logger.info("%s gRPC server listening on %s:%d", service_name, host, running.port)
    return running


def _not_health_checks() -> Any:
    # Probes every few seconds per pod would fill the trace store with one-span traces.
    return filters.negate(filters.service_name(HEALTH_SERVICE_NAME))
