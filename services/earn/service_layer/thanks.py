"""Send thanks (sponsor-funded credits or transfers from the sender), reply, read threads.

The monthly allowance row (program, sender, month in the program's time zone) is locked for
the whole gift, so two gifts at once never overspend it; it resets simply because a new month
is a new row. Each receiver's ledger movement is keyed `earn:thanks:<key>:<receiver>` and the
thanks id is derived from the same, so a retry repeats nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from runtime.db.unit_of_work import UnitOfWork
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound, TamaruError
from services.earn.adapters import paging
from services.earn.adapters.messages import stamp
from services.earn.adapters.orm import ThanksAllowanceRow, ThanksReplyRow, ThanksRow
from services.earn.domain.calendar import month_key
from services.earn.domain.thanks import check_gift, check_party
from services.earn.service_layer.deps import EarnDeps
from services.earn.service_layer.purchases import require_active
from tamaru.accounts.v1 import ledger_pb2, members_pb2
from tamaru.common.v1 import common_pb2
from tamaru.earn.v1 import earn_pb2, events_pb2, thanks_pb2


def derived_id(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "earn:" + "/".join(parts)).hex


def thanks_proto(row: ThanksRow, *, with_message: bool) -> thanks_pb2.ThanksMessage:
    return thanks_pb2.ThanksMessage(
        thanks_id=row.thanks_id,
        sender_account_id=row.sender_id,
        receiver_account_id=row.receiver_id,
        points=row.points,
        message=row.message if with_message else "",
        public=row.public,
        sent_at=stamp(row.sent_at),
        reply_count=row.reply_count,
    )


async def _given(uow: UnitOfWork, program_id: str, account_id: str, month: str, lock: bool) -> int:
    if lock:
        await uow.session.execute(
            insert(ThanksAllowanceRow)
            .values(program_id=program_id, account_id=account_id, month=month, given=0)
            .on_conflict_do_nothing()
        )
    query = select(ThanksAllowanceRow.given).where(
        ThanksAllowanceRow.program_id == program_id,
        ThanksAllowanceRow.account_id == account_id,
        ThanksAllowanceRow.month == month,
    )
    if lock:
        query = query.with_for_update()
    return int(await uow.session.scalar(query) or 0)


async def send_thanks(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.SendThanksRequest
) -> earn_pb2.SendThanksResponse:
    spec = deps.programs.require_open(program_id)
    settings = spec.thanks
    if not settings.enabled:
        raise FailedPrecondition("this program has no thanks points", reason="THANKS_DISABLED")
    accounts = deps.accounts(program_id, actor)
    sender = await accounts.resolve(r.sender)
    require_active(sender, "sender")
    receivers: list[str] = []
    for index, selector in enumerate(r.receivers):
        try:
            receiver = await accounts.resolve(selector)
            require_active(receiver, "")  # closed members get no thanks
        except TamaruError as exc:
            exc.field = f"receivers[{index}]"
            raise
        receivers.append(receiver.account_id)
    now = datetime.now(UTC)
    month = month_key(now, spec.zone)
    given = await _given(uow, program_id, sender.account_id, month, lock=True)
    check_gift(
        settings,
        sender=sender.account_id,
        receivers=receivers,
        points=r.points,
        message=r.message,
        given_this_month=given,
    )
    public = (
        settings.public_messages_default
        if r.visibility == thanks_pb2.VISIBILITY_UNSPECIFIED
        else r.visibility == thanks_pb2.VISIBILITY_PUBLIC
    )
    sent: list[thanks_pb2.ThanksMessage] = []
    for receiver_id in receivers:
        thanks_id = derived_id(program_id, r.idempotency_key, receiver_id)
        key = f"earn:thanks:{r.idempotency_key}:{receiver_id}"
        source = ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_THANKS, id=thanks_id)
        reason = f"thanks from {sender.account_id}"
        if settings.funding == "sponsor":
            credit = await accounts.credit(
                key, receiver_id, r.points, kind="normal", source=source, reason=reason,
                sponsor_funded=True,
            )  # fmt: skip
            tx_id = credit.result.transaction_id
        else:
            moved = await accounts.transfer(
                key, sender.account_id, receiver_id, r.points, source=source, reason=reason
            )
            tx_id = moved.transaction_id
        row = ThanksRow(
            thanks_id=thanks_id,
            program_id=program_id,
            sender_id=sender.account_id,
            receiver_id=receiver_id,
            points=r.points,
            message=r.message,
            public=public,
            transaction_id=tx_id,
            sent_at=now,
            reply_count=0,
        )
        uow.session.add(row)
        sent.append(thanks_proto(row, with_message=True))
        await uow.emit(
            program_id,
            "thanks_sent",
            events_pb2.ThanksSent(
                program_id=program_id,
                thanks_id=thanks_id,
                sender_account_id=sender.account_id,
                receiver_account_id=receiver_id,
                points=r.points,
                message=r.message if public else "",
            ),
            aggregate_id=receiver_id,
        )
    total = r.points * len(receivers)
    if settings.funding == "sponsor":
        await uow.session.execute(
            update(ThanksAllowanceRow)
            .where(
                ThanksAllowanceRow.program_id == program_id,
                ThanksAllowanceRow.account_id == sender.account_id,
                ThanksAllowanceRow.month == month,
            )
            .values(given=ThanksAllowanceRow.given + total)
        )
    await uow.session.flush()
    left = max(0, settings.monthly_allowance - given - total)
    return earn_pb2.SendThanksResponse(thanks=sent, allowance_left=left)


async def _thanks(uow: UnitOfWork, program_id: str, thanks_id: str, lock: bool) -> ThanksRow:
    query = select(ThanksRow).where(
        ThanksRow.program_id == program_id, ThanksRow.thanks_id == thanks_id
    )
    if lock:
        query = query.with_for_update()
    row = (await uow.session.scalars(query)).first()
    if row is None:
        raise NotFound("no such thanks", reason="THANKS_NOT_FOUND", field="thanks_id")
    return row


async def reply_thanks(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.ReplyThanksRequest
) -> earn_pb2.ReplyThanksResponse:
    row = await _thanks(uow, program_id, r.thanks_id, lock=True)
    author = await deps.accounts(program_id, actor).resolve(r.author)
    check_party(author.account_id, row.sender_id, row.receiver_id, "author")
    if not r.message.strip() or len(r.message) > 1000:
        raise InvalidArgument("message must be 1 to 1,000 characters", field="message")
    reply = ThanksReplyRow(
        reply_id=derived_id(program_id, "reply", r.idempotency_key),
        thanks_id=row.thanks_id,
        program_id=program_id,
        author_id=author.account_id,
        message=r.message,
        sent_at=datetime.now(UTC),
    )
    uow.session.add(reply)
    row.reply_count += 1
    await uow.session.flush()
    return earn_pb2.ReplyThanksResponse(reply=reply_proto(reply))


def reply_proto(row: ThanksReplyRow) -> thanks_pb2.ThanksReply:
    return thanks_pb2.ThanksReply(
        reply_id=row.reply_id,
        thanks_id=row.thanks_id,
        author_account_id=row.author_id,
        message=row.message,
        sent_at=stamp(row.sent_at),
    )


async def thread(
    uow: UnitOfWork, deps: EarnDeps, program_id: str, actor: str, r: earn_pb2.GetThanksThreadRequest
) -> earn_pb2.GetThanksThreadResponse:
    row = await _thanks(uow, program_id, r.thanks_id, lock=False)
    viewer = await deps.accounts(program_id, actor).resolve(r.viewer)
    check_party(viewer.account_id, row.sender_id, row.receiver_id, "viewer")
    replies = await uow.session.scalars(
        select(ThanksReplyRow)
        .where(ThanksReplyRow.program_id == program_id, ThanksReplyRow.thanks_id == row.thanks_id)
        .order_by(ThanksReplyRow.sent_at, ThanksReplyRow.reply_id)
    )
    return earn_pb2.GetThanksThreadResponse(
        thanks=thanks_proto(row, with_message=True), replies=[reply_proto(x) for x in replies]
    )


async def timeline(
    uow: UnitOfWork, program_id: str, r: earn_pb2.ListThanksTimelineRequest
) -> earn_pb2.ListThanksTimelineResponse:
    size = paging.page_size(r.page.page_size)
    after = paging.decode(r.page.page_token)
    query = select(ThanksRow).where(ThanksRow.program_id == program_id)
    if after is not None:
        query = query.where(tuple_(ThanksRow.sent_at, ThanksRow.thanks_id) < tuple_(*after))
    query = query.order_by(ThanksRow.sent_at.desc(), ThanksRow.thanks_id.desc()).limit(size + 1)
    rows = list(await uow.session.scalars(query))
    token = ""
    if len(rows) > size:
        rows = rows[:size]
        token = paging.encode(rows[-1].sent_at, rows[-1].thanks_id)
    return earn_pb2.ListThanksTimelineResponse(
        entries=[thanks_proto(x, with_message=x.public) for x in rows],
        page=common_pb2.PageResponse(next_page_token=token),
    )


async def allowance(
    uow: UnitOfWork,
    deps: EarnDeps,
    program_id: str,
    actor: str,
    selector: members_pb2.MemberSelector,
) -> earn_pb2.GetThanksAllowanceResponse:
    spec = deps.programs.spec(program_id)
    member = await deps.accounts(program_id, actor).resolve(selector)
    month = month_key(datetime.now(UTC), spec.zone)
    given = await _given(uow, program_id, member.account_id, month, lock=False)
    limit = spec.thanks.monthly_allowance
    return earn_pb2.GetThanksAllowanceResponse(
        month=month, allowance=limit, given=given, left=max(0, limit - given)
    )
