"""Every public RPC of every service, found from the code rather than listed by hand.

A service takes part when `services/<name>/app.py` defines a `definition` whose
`grpc_service_names` is not empty; a service still being built (no gRPC yet) is simply not there
yet, and joins these tests the day its composition root names a gRPC service.

`TAMARU_HOSTILE_SERVICES=accounts,catalog` narrows the run to some services (to work on one while
another is half-built); unset, every service takes part.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, MethodDescriptor

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from runtime.service import ServiceDefinition

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
ONLY_ENV = "TAMARU_HOSTILE_SERVICES"


@dataclass(frozen=True)
class Rpc:
    """One public gRPC method of one service."""

    service: str  # "accounts"
    path: str  # "/tamaru.accounts.v1.AccountsService/Credit"
    name: str  # "Credit"
    request: Descriptor
    response: Descriptor
    client_streaming: bool
    server_streaming: bool
    # None when the policy does not list the method (refused to every key).
    roles: frozenset[Role] | None

    @property
    def id(self) -> str:
        return f"{self.service}.{self.name}"

    def calling_role(self) -> Role:
        """The key to call with: admin where allowed, else a program role the policy lets in.
        A method open to no program role is called with admin: its refusal must be clean too."""
        for role in (Role.ADMIN, Role.BACKEND, Role.READONLY, Role.GRANTER):
            if self.roles and role in self.roles:
                return role
        return Role.ADMIN

    def __repr__(self) -> str:  # failure reports print it: the id says it all
        return f"Rpc({self.id})"

    @property
    def shape(self) -> str:
        return {
            (False, False): "unary",
            (True, False): "client-streaming",
            (False, True): "server-streaming",
            (True, True): "bidi-streaming",
        }[(self.client_streaming, self.server_streaming)]


@dataclass(frozen=True)
class ServiceUnderTest:
    name: str
    definition: ServiceDefinition
    rpcs: tuple[Rpc, ...]


def _service_names_on_disk() -> list[str]:
    return sorted(p.parent.name for p in SERVICES_DIR.glob("*/app.py"))


def _rpcs_of(name: str, definition: ServiceDefinition) -> tuple[Rpc, ...]:
    policy: MethodPolicy = definition.method_policy
    pool = descriptor_pool.Default()
    rpcs: list[Rpc] = []
    for full_name in definition.grpc_service_names:
        service = pool.FindServiceByName(full_name)
        method: MethodDescriptor
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            rpcs.append(
                Rpc(
                    service=name,
                    path=path,
                    name=method.name,
                    request=method.input_type,
                    response=method.output_type,
                    client_streaming=method.client_streaming,
                    server_streaming=method.server_streaming,
                    roles=policy.roles_for(path),
                )
            )
    return tuple(rpcs)


@cache
def services_under_test() -> tuple[ServiceUnderTest, ...]:
    """The services with a gRPC API, in name order (imported from their composition roots)."""
    only = {s.strip() for s in os.environ.get(ONLY_ENV, "").split(",") if s.strip()}
    found: list[ServiceUnderTest] = []
    for name in _service_names_on_disk():
        if only and name not in only:
            continue
        definition = importlib.import_module(f"services.{name}.app").definition
        if not isinstance(definition, ServiceDefinition):
            raise TypeError(f"services.{name}.app.definition is not a ServiceDefinition")
        if not definition.grpc_service_names:
            continue
        found.append(ServiceUnderTest(name, definition, _rpcs_of(name, definition)))
    return tuple(found)


def all_rpcs() -> list[Rpc]:
    return [rpc for service in services_under_test() for rpc in service.rpcs]
