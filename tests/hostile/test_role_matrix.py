"""The role matrix: each role can call exactly what its service's policy and the docs say.

Every RPC is called with every role's key (admin, backend, readonly, granter, and platform) and
an empty request: PERMISSION_DENIED by the policy (ROLE_NOT_ALLOWED / METHOD_NOT_ALLOWED)
exactly when the role is not in the method's policy. Any other answer means the key got past
authorization (an empty request is then usually INVALID_ARGUMENT, which is fine); a server
fault is not fine for anyone. The policies themselves must equal what the docs say.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import Descriptor

from runtime.auth import Role
from tests.hostile.discovery import Rpc, all_rpcs, services_under_test
from tests.hostile.documented_roles import (
    DOCUMENTED,
    PROGRAM_ROLES,
    documented_methods,
    missing_quotes,
)
from tests.hostile.known_findings import expect
from tests.hostile.rpc_calls import SERVER_FAULTS, request_class
from tests.hostile.stack import HostileStack
from tests.support.services import TestProgram

ROLES = (*PROGRAM_ROLES, Role.PLATFORM)
SERVICE_NAMES = [service.name for service in services_under_test()]


@pytest.mark.parametrize("rpc", [expect("role", rpc) for rpc in all_rpcs()])
async def test_each_role_is_refused_exactly_where_the_policy_says(
    rpc: Rpc, stack: HostileStack, roles_program: TestProgram
) -> None:
    empty = [] if rpc.client_streaming else [request_class(rpc)()]
    wrong: list[str] = []
    for role in ROLES:
        outcome = await stack.call(rpc, empty, roles_program, role)
        allowed = rpc.roles is not None and role in rpc.roles
        if outcome.code in SERVER_FAULTS or outcome.code is grpc.StatusCode.UNAUTHENTICATED:
            wrong.append(f"{role}: {outcome.describe()}")
        elif allowed and outcome.denied_by_policy:
            wrong.append(f"{role} is in the policy yet was refused: {outcome.describe()}")
        elif not allowed and not outcome.denied_by_policy:
            wrong.append(f"{role} is not in the policy yet got {outcome.describe()}")
    assert not wrong, f"{rpc.id} (policy: {sorted(rpc.roles or [])}): " + "; ".join(wrong)


def _rpcs_of(service: str) -> list[Rpc]:
    return [rpc for rpc in all_rpcs() if rpc.service == service]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_method_is_in_its_service_policy(service: str) -> None:
    unlisted = [rpc.id for rpc in _rpcs_of(service) if rpc.roles is None]
    assert not unlisted, f"refused to every key because the policy does not list them: {unlisted}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_policies_say_what_the_docs_say(service: str) -> None:
    assert service in DOCUMENTED, (
        f"{service} has a gRPC API but no documented roles transcribed in "
        "tests/hostile/documented_roles.py: document them (docs/roles.md or docs/<service>.md) "
        "and transcribe them there"
    )
    assert missing_quotes(service) == [], (
        f"docs/{DOCUMENTED[service].doc} no longer says what documented_roles.py transcribed"
    )
    rpcs = _rpcs_of(service)
    every = frozenset(rpc.name for rpc in rpcs)
    documented = documented_methods(service, every)
    for role in PROGRAM_ROLES:
        in_policy = frozenset(rpc.name for rpc in rpcs if rpc.roles and role in rpc.roles)
        assert in_policy == documented[role], (
            f"{service}, role {role}: the policy allows {sorted(in_policy - documented[role])} "
            f"the docs do not, and the docs allow {sorted(documented[role] - in_policy)} the "
            "policy does not"
        )


def _changes_something(request: Descriptor) -> bool:
    # Every mutating request carries an idempotency key (accounts.proto), at the top or in the
    # header message of a stream.
    return "idempotency_key" in request.fields_by_name or any(
        f.message_type is not None and "idempotency_key" in f.message_type.fields_by_name
        for f in request.fields
    )


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_readonly_and_granter_keys_stay_in_their_lane(service: str) -> None:
    """roles.md: readonly reads, granter may only grant, admin may do what any other may."""
    for rpc in _rpcs_of(service):
        roles = rpc.roles or frozenset()
        if Role.READONLY in roles:
            assert not _changes_something(rpc.request), f"readonly may call {rpc.id}, a write"
        if Role.GRANTER in roles:
            assert "Grant" in rpc.name, f"granter may call {rpc.id}, which is not about grants"
        if roles & {Role.BACKEND, Role.READONLY, Role.GRANTER}:
            assert Role.ADMIN in roles, f"admin may not call {rpc.id}, which others may"
