"""MethodPolicy: full method names, fail closed, and a check that a service listed every method."""

from __future__ import annotations

import pytest

from runtime.auth import Role
from runtime.grpcserver import MethodPolicy
from tests.runtime.echo_server import DEFAULT_POLICY, ECHO, SERVICE


def test_for_service_builds_full_method_names() -> None:
    policy = MethodPolicy.for_service(SERVICE, {"Echo": [Role.ADMIN, Role.READONLY]})
    assert policy.roles_for(ECHO) == frozenset({Role.ADMIN, Role.READONLY})
    assert policy.roles_for(f"/{SERVICE.full_name}/Fail") is None


def test_missing_methods_lists_what_would_be_refused() -> None:
    partial = MethodPolicy.for_service(SERVICE, {"Echo": [Role.ADMIN]})
    assert DEFAULT_POLICY.missing_methods(SERVICE) == []
    assert f"/{SERVICE.full_name}/EchoChat" in partial.missing_methods(SERVICE)
    assert ECHO not in partial.missing_methods(SERVICE)


@pytest.mark.parametrize(
    "method", ["tamaru.testing.v1.EchoService/Echo", "/EchoService/Echo", "/a.B/", "/a.B/C/D"]
)
def test_malformed_method_names_are_rejected_at_build_time(method: str) -> None:
    with pytest.raises(ValueError, match="full gRPC method name"):
        MethodPolicy({method: [Role.ADMIN]})


def test_health_and_reflection_are_public_and_nothing_else() -> None:
    assert DEFAULT_POLICY.is_public("/grpc.health.v1.Health/Check")
    assert DEFAULT_POLICY.is_public(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    )
    assert not DEFAULT_POLICY.is_public(ECHO)
    assert not DEFAULT_POLICY.is_public("/grpc.health.v1.HealthX/Check")


def test_merged_rejects_a_method_listed_twice() -> None:
    one = MethodPolicy.for_service(SERVICE, {"Echo": [Role.ADMIN]})
    other = MethodPolicy.for_service(SERVICE, {"Fail": [Role.ADMIN]})
    merged = one.merged(other)
    assert merged.roles_for(ECHO) == frozenset({Role.ADMIN})
    with pytest.raises(ValueError, match="two policies"):
        one.merged(one)
