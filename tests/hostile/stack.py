"""Every discovered service running in-process on one database and one NATS, and a way to call
any of their RPCs with any program's key for any role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc.aio
from google.protobuf.message import Message
from nats.js import JetStreamContext

from runtime.auth import Role
from runtime.service import ServiceApp
from runtime.telemetry.setup import setup_telemetry
from tests.hostile.discovery import Rpc, ServiceUnderTest
from tests.hostile.rpc_calls import Outcome, call
from tests.hostile.telemetry_capture import Capture
from tests.support.services import TestProgram, channel_to, running_service, test_settings


@dataclass
class HostileStack:
    js: JetStreamContext
    services: tuple[ServiceUnderTest, ...]
    apps: dict[str, ServiceApp]
    channels: dict[str, grpc.aio.Channel]
    capture: Capture
    rpcs: dict[str, Rpc] = field(default_factory=dict)  # "accounts.Credit" -> Rpc

    def __repr__(self) -> str:  # failure reports print every fixture
        return f"HostileStack({', '.join(self.names)})"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def rpc(self, service: str, method: str) -> Rpc | None:
        return self.rpcs.get(f"{service}.{method}")

    async def call(
        self,
        rpc: Rpc,
        requests: Message | Sequence[Message],
        program: TestProgram,
        role: Role = Role.ADMIN,
        **kwargs: Any,
    ) -> Outcome:
        batch = [requests] if isinstance(requests, Message) else list(requests)
        return await call(self.channels[rpc.service], rpc, batch, program.metadata(role), **kwargs)

    async def call_named(
        self,
        service: str,
        method: str,
        request: Message,
        program: TestProgram,
        role: Role = Role.ADMIN,
    ) -> Outcome | None:
        """Call `service.method` if that service is under test (None when it is not)."""
        rpc = self.rpc(service, method)
        return None if rpc is None else await self.call(rpc, request, program, role)


@asynccontextmanager
async def hostile_stack(
    services: tuple[ServiceUnderTest, ...],
    database_url: str,
    nats_url: str,
    js: JetStreamContext,
    capture: Capture,
) -> AsyncIterator[HostileStack]:
    settings = test_settings(database_url, nats_url)  # only to build telemetry from
    async with AsyncExitStack() as stack:
        apps: dict[str, ServiceApp] = {}
        channels: dict[str, grpc.aio.Channel] = {}
        for service in services:
            telemetry = setup_telemetry(
                service.name, settings, span_exporter=capture.spans, set_global=False
            )
            app = await stack.enter_async_context(
                running_service(
                    service.definition,
                    database_url,
                    nats_url,
                    with_telemetry=telemetry,
                    # Nothing is in flight when the package ends: stop at once.
                    shutdown_grace_seconds=0.5,
                )
            )
            apps[service.name] = app
            channels[service.name] = await stack.enter_async_context(channel_to(app))
        rpcs = {rpc.id: rpc for service in services for rpc in service.rpcs}
        yield HostileStack(js, services, apps, channels, capture, rpcs)
