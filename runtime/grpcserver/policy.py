"""Which API-key roles may call which gRPC method; anything not listed is refused."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from google.protobuf.descriptor import ServiceDescriptor

from runtime.auth import Role

# Kubernetes probes and tools like grpcurl call these without a key; they reveal no program data.
PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


class MethodPolicy:
    """Full method name (`/tamaru.accounts.v1.AccountsService/Credit`) -> roles allowed.

    Fail closed: a method missing here is denied to every key, so a new RPC is unusable until
    someone decides who may call it. `missing_methods` lets a test prove a service listed all.
    """

    def __init__(self, allowed: Mapping[str, Iterable[Role]]) -> None:
        checked: dict[str, frozenset[Role]] = {}
        for method, roles in allowed.items():
            _check_method_name(method)
            checked[method] = frozenset(Role(role) for role in roles)
        self._allowed: Mapping[str, frozenset[Role]] = MappingProxyType(checked)

    @classmethod
    def for_service(
        cls, service: ServiceDescriptor | str, roles_by_method: Mapping[str, Iterable[Role]]
    ) -> MethodPolicy:
        """Build from short method names: `for_service(desc, {"Credit": {Role.ADMIN}})`."""
        full_name = service if isinstance(service, str) else service.full_name
        return cls({f"/{full_name}/{name}": roles for name, roles in roles_by_method.items()})

    def merged(self, *others: MethodPolicy) -> MethodPolicy:
        """One policy for a server hosting several services; a method listed twice is an error."""
        combined: dict[str, frozenset[Role]] = dict(self._allowed)
        for other in others:
            for method, roles in other.items():
                if method in combined:
                    raise ValueError(f"method {method} appears in two policies")
                combined[method] = roles
        return MethodPolicy(combined)

    def items(self) -> Iterable[tuple[str, frozenset[Role]]]:
        return self._allowed.items()

    def is_public(self, method: str) -> bool:
        return _service_of(method) in PUBLIC_SERVICES

    def roles_for(self, method: str) -> frozenset[Role] | None:
        """The roles allowed to call `method`, or None when the policy does not list it."""
        return self._allowed.get(method)

    def missing_methods(self, service: ServiceDescriptor) -> list[str]:
        """Methods of `service` this policy does not mention (each one would be refused)."""
        return [
            f"/{service.full_name}/{method.name}"
            for method in service.methods
            if f"/{service.full_name}/{method.name}" not in self._allowed
        ]


def _service_of(method: str) -> str:
    return method.lstrip("/").split("/", 1)[0]


def _check_method_name(method: str) -> None:
    # A typo here would silently deny the real method; catch it when the policy is built.
    parts = method.split("/")
    if len(parts) != 3 or parts[0] != "" or not parts[1] or not parts[2] or "." not in parts[1]:
        raise ValueError(
            f"method {method!r} must be a full gRPC method name like '/pkg.v1.Service/Method'"
        )
