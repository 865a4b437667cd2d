"""`tamaructl verify [--program ID]`: prove the ledger's invariants from the accounts tables
(postings sum to zero, balances equal their lots, held equals open holds, points conserved).
Exit 1 when any program has a problem. The same check is the `Verify` admin RPC."""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import select

from runtime.config import load_settings
from runtime.db.engine import make_async_engine, make_session_factory
from services.accounts.adapters.ledger_queries import verify_program
from services.accounts.adapters.orm import AccountRow


async def verify(programs: list[str]) -> int:
    engine = make_async_engine(load_settings().database_url, schema="accounts", pool_size=2)
    failures = 0
    try:
        async with make_session_factory(engine)() as session:
            if not programs:
                programs = list(await session.scalars(select(AccountRow.program_id).distinct()))
            for program_id in sorted(programs):
                result = await verify_program(session, program_id)
                status = "ok" if not result.problems else f"{len(result.problems)} problem(s)"
                print(
                    f"{program_id}: {status}; accounts {result.accounts_checked}, balances "
                    f"{result.member_balances}, held {result.held}, system {dict(result.system)}"
                )
                for problem in result.problems[:20]:
                    print(f"  - {problem}")
                failures += bool(result.problems)
    finally:
        await engine.dispose()
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tamaructl verify")
    parser.add_argument("--program", action="append", default=[])
    return asyncio.run(verify(parser.parse_args(argv).program))
