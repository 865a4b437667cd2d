"""`tamaructl demo`: a short client session against the running local system, printing what
happens. It uses the example programs' keys from `.tamaru/keys/` (written by `tamaructl apply`).

Employee program (acme-rewards): enrol two colleagues, grant the annual MVP award, send thanks
points, spend on a reward, show balances and history, and prove the ledger's invariants.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.config import DEFAULT_GRPC_PORTS
from tamaru.accounts.v1 import accounts_pb2, accounts_pb2_grpc, ledger_pb2, members_pb2
from tamaructl.keystore import DEFAULT_DIR

PROGRAM = "acme-rewards"


def say(message: str) -> None:
    print(f"  {message}", flush=True)


def step(title: str) -> None:
    print(f"\n▶ {title}", flush=True)


class Client:
    def __init__(self, key: str, host: str) -> None:
        self.metadata = [("authorization", f"Bearer {key}")]
        self.channel = grpc.aio.insecure_channel(f"{host}:{DEFAULT_GRPC_PORTS['accounts']}")
        self.accounts = accounts_pb2_grpc.AccountsServiceStub(self.channel)

    async def call(self, method: str, request: Any) -> Any:
        return await getattr(self.accounts, method)(request, metadata=self.metadata, timeout=10)

    async def member(self, ref: str, name: str) -> str:
        """Enrol the member, or find the one an earlier demo run enrolled."""
        try:
            reply = await self.call(
                "EnrolMember",
                accounts_pb2.EnrolMemberRequest(
                    idempotency_key=f"demo-enrol-{ref}", external_ref=ref, display_name=name
                ),
            )
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            reply = await self.call(
                "GetMember",
                accounts_pb2.GetMemberRequest(member=members_pb2.MemberSelector(external_ref=ref)),
            )
        return str(reply.member.account_id)

    async def balance(self, account_id: str) -> int:
        reply = await self.call(
            "GetBalance",
            accounts_pb2.GetBalanceRequest(
                member=members_pb2.MemberSelector(account_id=account_id)
            ),
        )
        return int(reply.balance.available)


async def check_health(host: str) -> bool:
    healthy = True
    for name, port in DEFAULT_GRPC_PORTS.items():
        async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=3
                )
                serving = reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError:
                serving = False
        say(f"{name:<9} {'SERVING' if serving else 'NOT SERVING'} on port {port}")
        healthy &= serving
    return healthy


async def employee_program(client: Client) -> None:
    run = uuid.uuid4().hex[:8]
    step("enrol two colleagues")
    hanako = await client.member("emp-0001", "佐藤 花子 (Hanako Sato)")
    taro = await client.member("emp-0002", "鈴木 太郎 (Taro Suzuki)")
    say(f"Hanako: {hanako}")
    say(f"Taro:   {taro}")

    step("grant Hanako the annual MVP award (criterion annual_mvp, 30,000 points, sponsor-funded)")
    credit = await client.call(
        "Credit",
        accounts_pb2.CreditRequest(
            idempotency_key=f"demo-mvp-{run}",
            member=members_pb2.MemberSelector(account_id=hanako),
            amount=30_000,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_CRITERION, id="annual_mvp"),
            reason="年間MVP 2026",
            sponsor_funded=True,
        ),
    )
    say(f"transaction {credit.result.transaction_id}; Hanako now has {credit.balance.available}")

    step("Hanako thanks Taro with 500 points from her own balance")
    await client.call(
        "Transfer",
        accounts_pb2.TransferRequest(
            idempotency_key=f"demo-thanks-{run}",
            from_member=members_pb2.MemberSelector(account_id=hanako),
            to_member=members_pb2.MemberSelector(account_id=taro),
            amount=500,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_THANKS, id=f"thanks-{run}"),
            reason="ありがとう! Thanks for covering my shift",
        ),
    )
    say(f"Hanako {await client.balance(hanako)}, Taro {await client.balance(taro)}")

    step("Taro spends 300 points on a drip-coffee set; then tries 1,000,000")
    await client.call(
        "Debit",
        accounts_pb2.DebitRequest(
            idempotency_key=f"demo-coffee-{run}",
            member=members_pb2.MemberSelector(account_id=taro),
            amount=300,
            source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id=f"order-{run}"),
            reason="ドリップコーヒーセット",
        ),
    )
    try:
        await client.call(
            "Debit",
            accounts_pb2.DebitRequest(
                idempotency_key=f"demo-too-much-{run}",
                member=members_pb2.MemberSelector(account_id=taro),
                amount=1_000_000,
                source=ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id=f"order-x-{run}"),
            ),
        )
    except grpc.aio.AioRpcError as err:
        say(f"refused as expected: {err.code().name}: {err.details()}")

    step("Taro's history")
    history = await client.call(
        "ListHistory",
        accounts_pb2.ListHistoryRequest(member=members_pb2.MemberSelector(account_id=taro)),
    )
    for tx in list(history.transactions)[:4]:
        kind = ledger_pb2.TransactionType.Name(tx.type).removeprefix("TRANSACTION_TYPE_")
        when = f"{tx.occurred_at.ToDatetime():%Y-%m-%d %H:%M:%S}"
        say(f"{when}  {kind:<9} {tx.balance_change:+7d}  {tx.reason}")

    step("verify the program's ledger")
    verified = await client.call("Verify", accounts_pb2.VerifyRequest())
    say(
        f"consistent={verified.consistent}: issued {verified.issued} = balances "
        f"{verified.member_balances} + held {verified.held} + redeemed {verified.redeemed} "
        f"+ expired {verified.expired}"
    )
    if not verified.consistent:
        raise SystemExit(f"ledger inconsistent: {list(verified.problems)}")


def load_key(keys_dir: Path, program: str, role: str) -> str:
    path = keys_dir / f"{program}.json"
    if not path.exists():
        raise SystemExit(f"no keys at {path}: apply examples/programs first (make run does)")
    return str(json.loads(path.read_text())[role])


async def run(args: argparse.Namespace) -> int:
    step("services")
    if not await check_health(args.host):
        print("demo: not every service is serving", file=sys.stderr)
        return 1
    client = Client(load_key(args.keys_dir, PROGRAM, "admin"), args.host)
    try:
        await employee_program(client)
    finally:
        await client.channel.close()
    print("\n✔ demo finished", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--keys-dir", type=Path, default=DEFAULT_DIR)
    return asyncio.run(run(parser.parse_args(argv)))
