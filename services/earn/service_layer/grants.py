"""Grant points for a criterion (or a free amount) to a list of members.

Every member is resolved and checked before anything is credited, so a bad entry refuses the
whole grant (naming `members[i]`) instead of leaving it half done. Each credit's key is
`earn:grant:<client key>:<account>`: a retry credits nobody twice.
"""

from __future__ import annotations

import asyncio

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import InvalidArgument, NotFound, TamaruError
from runtime.programs.spec import ProgramSpec
from services.earn.adapters.accounts import MemberInfo
from services.earn.adapters.orm import GrantRecipientRow, GrantRow
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchases import require_active
from tamaru.accounts.v1 import ledger_pb2
from tamaru.earn.v1 import earn_pb2, grants_pb2

MAX_MEMBERS = 1000
MAX_POINTS = 1_000_000_000
CONCURRENT_CREDITS = 16  # in flight at once to accounts: fast, without flooding it


def criterion_protos(spec: ProgramSpec) -> list[grants_pb2.GrantCriterion]:
    return [
        grants_pb2.GrantCriterion(
            id=c.id,
            name=c.name,
            points=c.points,
            point_kind=c.point_kind or "normal",
            sponsor_funded=c.sponsor_funded,
            description=c.description,
        )
        for c in spec.grant_criteria
    ]


def what_to_grant(
    spec: ProgramSpec, r: earn_pb2.GrantPointsRequest
) -> tuple[int, str, bool, str, ledger_pb2.Source]:
    """(points, kind, sponsor_funded, reason, source) for the request."""
    if r.criterion_id:
        criterion = next((c for c in spec.grant_criteria if c.id == r.criterion_id), None)
        if criterion is None:
            raise NotFound(
                f"the program has no grant criterion {r.criterion_id!r}",
                reason="CRITERION_NOT_FOUND",
                field="criterion_id",
            )
        if r.amount or r.point_kind:
            raise InvalidArgument(
                "a criterion fixes the amount and kind: leave amount and point_kind empty",
                field="amount" if r.amount else "point_kind",
            )
        source = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_CRITERION, id=criterion.id)
        reason = r.reason or criterion.name
        return (
            criterion.points,
            criterion.point_kind or "normal",
            criterion.sponsor_funded,
            reason,
            source,
        )
    if not spec.allow_free_amount_grants:
        raise InvalidArgument(
            "criterion_id is required: this program allows no free-amount grants",
            reason="FREE_AMOUNT_GRANTS_DISABLED",
            field="criterion_id",
        )
    if not 0 < r.amount <= MAX_POINTS:
        raise InvalidArgument(f"amount must be between 1 and {MAX_POINTS:,}", field="amount")
    if not r.reason.strip():
        raise InvalidArgument("a free-amount grant needs a reason", field="reason")
    kind = r.point_kind or "normal"
    if kind not in spec.point_kind_ids:
        raise InvalidArgument(f"unknown point kind {kind!r}", field="point_kind")
    source = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ADMIN, id="free-amount")
    return r.amount, kind, r.sponsor_funded, r.reason, source


async def resolve_members(
    deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.GrantPointsRequest
) -> list[MemberInfo]:
    if not r.members:
        raise InvalidArgument("name at least one member", field="members")
    if len(r.members) > MAX_MEMBERS:
        raise InvalidArgument(f"at most {MAX_MEMBERS} members per grant", field="members")
    accounts = deps.accounts(program_id, actor)
    semaphore = asyncio.Semaphore(CONCURRENT_CREDITS)

    async def one(index: int) -> MemberInfo:
        async with semaphore:
            try:
                member = await accounts.resolve(r.members[index])
                require_active(member, "")
                return member
            except TamaruError as exc:
                exc.field = f"members[{index}]"
                raise

    members = list(await asyncio.gather(*(one(i) for i in range(len(r.members)))))
    seen: set[str] = set()
    for index, member in enumerate(members):
        if member.account_id in seen:
            raise InvalidArgument("the member is named twice", field=f"members[{index}]")
        seen.add(member.account_id)
    return members


async def grant_points(
    uow: UnitOfWork,
    deps: EarnDeps,
    program_id: str,
    actor: str,
    r: earn_pb2.GrantPointsRequest,
) -> earn_pb2.GrantPointsResponse:
    spec = deps.programs.require_open(program_id)
    points, kind, sponsor_funded, reason, source = what_to_grant(spec, r)
    members = await resolve_members(deps, program_id, actor, r)
    accounts = deps.accounts(program_id, actor)
    grant_id = new_id()
    semaphore = asyncio.Semaphore(CONCURRENT_CREDITS)

    async def credit(member: MemberInfo) -> grants_pb2.GrantRecipient:
        async with semaphore:
            reply = await accounts.credit(
                f"earn:grant:{r.idempotency_key}:{member.account_id}",
                member.account_id,
                points,
                kind=kind,
                source=source,
                reason=reason,
                sponsor_funded=sponsor_funded,
            )
        return grants_pb2.GrantRecipient(
            account_id=member.account_id, transaction_id=reply.result.transaction_id
        )

    recipients = list(await asyncio.gather(*(credit(m) for m in members)))
    uow.session.add(
        GrantRow(
            grant_id=grant_id,
            program_id=program_id,
            criterion_id=r.criterion_id,
            points=points,
            point_kind=kind,
            reason=reason,
            sponsor_funded=sponsor_funded,
            granted_by=actor,
            members=len(recipients),
        )
    )
    for recipient in recipients:
        uow.session.add(
            GrantRecipientRow(
                grant_id=grant_id,
                account_id=recipient.account_id,
                program_id=program_id,
                transaction_id=recipient.transaction_id,
            )
        )
    await uow.session.flush()
    return earn_pb2.GrantPointsResponse(
        grant_id=grant_id, points_per_member=points, recipients=recipients
    )
