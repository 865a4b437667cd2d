"""Membership-card tokens: issued signed and short-lived, resolved like an identifier, and
verifiable offline by a POS holding the program's key (the format in docs/members.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from nats.js import JetStreamContext

from runtime.config import ConfigError, Environment
from runtime.service import ServiceApp
from services.accounts.adapters.card_keys import DEV_KEY, service_card_key
from services.accounts.domain.card_tokens import issue_card_token, program_card_key
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tests.accounts.conftest import Accounts
from tests.accounts.members_support import by_id, key, refused
from tests.support.services import TestProgram, create_program


@pytest_asyncio.fixture(loop_scope="session")
async def other_program(accounts_app: ServiceApp, js: JetStreamContext) -> TestProgram:
    return await create_program(js, ["accounts"])


async def issue(
    accounts: Accounts, account_id: str, ttl: int = 0
) -> accounts_pb2.IssueCardTokenResponse:
    reply: accounts_pb2.IssueCardTokenResponse = await accounts.call(
        "IssueCardToken",
        accounts_pb2.IssueCardTokenRequest(
            idempotency_key=key(), member=by_id(account_id), ttl_seconds=ttl
        ),
    )
    return reply


async def resolve(accounts: Accounts, token: str) -> accounts_pb2.ResolveCardTokenResponse:
    reply: accounts_pb2.ResolveCardTokenResponse = await accounts.call(
        "ResolveCardToken", accounts_pb2.ResolveCardTokenRequest(token=token)
    )
    return reply


def verify_offline(token: str, service_key: bytes, program_id: str) -> tuple[str, int]:
    """What a POS does, following docs/members.md only: (account id, expiry)."""
    program_key = hmac.new(
        service_key, b"tamaru card key v1:" + program_id.encode(), hashlib.sha256
    ).digest()
    body, _, signature = token.rpartition(".")
    expected = base64.urlsafe_b64encode(
        hmac.new(program_key, body.encode(), hashlib.sha256).digest()
    ).rstrip(b"=")
    assert hmac.compare_digest(signature.encode(), expected)
    version, program, account_id, expires = body.split(".")
    assert (version, program) == ("TC1", program_id)
    return account_id, int(expires)


async def test_issue_resolve_and_verify_offline(accounts: Accounts) -> None:
    account_id = await accounts.enrol("card-1")
    reply = await issue(accounts, account_id)
    lifetime = reply.expires_at.seconds - datetime.now(UTC).timestamp()
    assert 280 < lifetime <= 300  # five minutes by default

    found = await resolve(accounts, reply.token)
    assert (found.account_id, found.external_ref) == (account_id, "card-1")
    assert found.status == ledger_pb2.ACCOUNT_STATUS_ACTIVE
    assert found.expires_at == reply.expires_at

    offline = verify_offline(reply.token, DEV_KEY, accounts.program.program_id)
    assert offline == (account_id, reply.expires_at.seconds)
    assert len(reply.token) < 160  # fits a small QR code


async def test_expired_forged_and_foreign_tokens_are_refused(
    accounts: Accounts, channel: grpc.aio.Channel, other_program: TestProgram
) -> None:
    account_id = await accounts.enrol("card-2")
    program_id = accounts.program.program_id
    token = (await issue(accounts, account_id, ttl=60)).token

    past = datetime.now(UTC) - timedelta(minutes=10)
    expired, _ = issue_card_token(
        program_card_key(DEV_KEY, program_id), program_id, account_id, past, timedelta(minutes=5)
    )
    await refused(
        resolve(accounts, expired),
        grpc.StatusCode.FAILED_PRECONDITION,
        field="token",
        reason="CARD_TOKEN_EXPIRED",
    )
    body, _, signature = token.rpartition(".")
    version, program, _, expires = body.split(".")
    other_member = await accounts.enrol("card-3")
    forged = f"{version}.{program}.{other_member}.{expires}.{signature}"
    for bad in (forged, token[:-2], "", "x" * 300, "TC1.a.b", token + "\u00e9"):
        await refused(
            resolve(accounts, bad),
            grpc.StatusCode.INVALID_ARGUMENT,
            field="token",
            reason="CARD_TOKEN_INVALID",
        )
    # Another program's key cannot resolve this program's cards.
    foreign = Accounts(channel, other_program)
    await refused(
        resolve(foreign, token), grpc.StatusCode.INVALID_ARGUMENT, reason="CARD_TOKEN_INVALID"
    )


async def test_card_refusals(accounts: Accounts) -> None:
    account_id = await accounts.enrol("card-4")
    for ttl in (-1, 86401):
        await refused(
            issue(accounts, account_id, ttl), grpc.StatusCode.INVALID_ARGUMENT, field="ttl_seconds"
        )
    await accounts.call(
        "CloseMember",
        accounts_pb2.CloseMemberRequest(idempotency_key=key(), member=by_id(account_id)),
    )
    await refused(
        issue(accounts, account_id), grpc.StatusCode.FAILED_PRECONDITION, reason="ACCOUNT_CLOSED"
    )


def test_signing_key_comes_from_the_environment() -> None:
    assert service_card_key(Environment.DEV, {}) == DEV_KEY
    secret = "s" * 40
    assert (
        service_card_key(Environment.PROD, {"TAMARU_CARD_SIGNING_KEY": secret}) == secret.encode()
    )
    with pytest.raises(ConfigError, match="TAMARU_CARD_SIGNING_KEY"):
        service_card_key(Environment.PROD, {})
    with pytest.raises(ConfigError, match="at least 32"):
        service_card_key(Environment.DEV, {"TAMARU_CARD_SIGNING_KEY": "short"})
