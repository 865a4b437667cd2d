"""Grant points for a criterion (or a free amount) to a list of members or to a group.

Named members are resolved and checked before anything is credited, so a bad entry refuses
the whole grant (naming `members[i]`) instead of leaving it half done; a group grant takes the
group's active members as accounts lists them. Credits go to accounts 1,000 per BatchCredit
command, each under `earn:grant:<client key>:<account>`: a retry credits nobody twice.
"""

from __future__ import annotations

from sqlalchemy import insert

from runtime.db.unit_of_work import UnitOfWork, new_id
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TamaruError
from runtime.programs.spec import ProgramSpec
from services.earn.adapters.accounts import MemberInfo, by_account
from services.earn.adapters.orm import GrantRecipientRow, GrantRow
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchases import require_active
from tamaru.accounts.v1 import accounts_pb2, ledger_pb2
from tamaru.earn.v1 import earn_pb2, grants_pb2

MAX_MEMBERS = 1000
MAX_GROUP_MEMBERS = 10_000  # about 10 s of credits; larger groups go through ImportGrants
MAX_POINTS = 1_000_000_000
CHUNK = 1000  # members per accounts BatchCredit command (one transaction)


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
) -> list[str]:
    """The account ids of the named members, every one checked before anything is credited."""
    if len(r.members) > MAX_MEMBERS:
        raise InvalidArgument(f"at most {MAX_MEMBERS} members per grant", field="members")
    found = await deps.accounts(program_id, actor).resolve_many(list(r.members))
    members: list[MemberInfo] = []
    for index, member in enumerate(found):
        try:
            if isinstance(member, TamaruError):
                raise member
            require_active(member, "")
        except TamaruError as exc:
            exc.field = f"members[{index}]"
            raise
        members.append(member)
    seen: set[str] = set()
    for index, member in enumerate(members):
        if member.account_id in seen:
            raise InvalidArgument("the member is named twice", field=f"members[{index}]")
        seen.add(member.account_id)
    return [m.account_id for m in members]


async def group_members(
    deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.GrantPointsRequest
) -> list[str]:
    """The group's active members (and its subtree's, when asked), as accounts lists them now."""
    found: list[str] = []
    async for page in deps.accounts(program_id, actor).group_members(
        r.group_id, subgroups=r.include_subgroups
    ):
        found.extend(page)
        if len(found) > MAX_GROUP_MEMBERS:
            raise FailedPrecondition(
                f"the group has more than {MAX_GROUP_MEMBERS:,} active members: grant to it "
                "with an import file (ImportGrants)",
                reason="GROUP_TOO_LARGE",
                field="group_id",
            )
    if not found:
        raise FailedPrecondition(
            "the group has no active members", reason="GROUP_EMPTY", field="group_id"
        )
    return found


async def recipients_of(
    deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.GrantPointsRequest
) -> list[str]:
    if r.group_id and r.members:
        raise InvalidArgument("give members or group_id, not both", field="group_id")
    if r.group_id:
        return await group_members(deps, program_id, actor, r)
    if r.include_subgroups:
        raise InvalidArgument("include_subgroups needs a group_id", field="include_subgroups")
    if not r.members:
        raise InvalidArgument("name at least one member, or a group_id", field="members")
    return await resolve_members(deps, program_id, actor, r)


async def grant_points(
    uow: UnitOfWork,
    deps: EarnDeps,
    program_id: str,
    actor: str,
    r: earn_pb2.GrantPointsRequest,
) -> earn_pb2.GrantPointsResponse:
    spec = deps.programs.require_open(program_id)
    points, kind, sponsor_funded, reason, source = what_to_grant(spec, r)
    account_ids = await recipients_of(deps, program_id, actor, r)
    accounts = deps.accounts(program_id, actor)
    recipients: list[grants_pb2.GrantRecipient] = []
    for start in range(0, len(account_ids), CHUNK):
        chunk = account_ids[start : start + CHUNK]
        reply = await accounts.batch_credit(
            [
                accounts_pb2.BatchCreditEntry(
                    member=by_account(account_id),
                    amount=points,
                    kind=kind,
                    source=source,
                    reason=reason[:500],
                    sponsor_funded=sponsor_funded,
                    # Per member, not per position: a retry that finds the group changed
                    # credits each member once.
                    idempotency_key=f"earn:grant:{r.idempotency_key}:{account_id}",
                )
                for account_id in chunk
            ]
        )
        for account_id, result in zip(chunk, reply.results, strict=True):
            if result.HasField("error"):  # e.g. closed between the lookup and the credit
                raise FailedPrecondition(
                    f"member {account_id}: {result.error.message}; retry the grant with the "
                    "same idempotency_key to finish it (no member is credited twice)",
                    reason=result.error.reason,
                    field="members" if r.members else "group_id",
                )
            recipients.append(
                grants_pb2.GrantRecipient(
                    account_id=account_id, transaction_id=result.result.transaction_id
                )
            )
    grant_id = new_id()
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
    await uow.session.flush()
    await uow.session.execute(
        insert(GrantRecipientRow),
        [
            {
                "grant_id": grant_id,
                "account_id": recipient.account_id,
                "program_id": program_id,
                "transaction_id": recipient.transaction_id,
            }
            for recipient in recipients
        ],
    )
    return earn_pb2.GrantPointsResponse(
        grant_id=grant_id, points_per_member=points, recipients=recipients
    )
