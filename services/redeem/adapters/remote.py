"""The accounts and catalog commands redeem sends over NATS, as typed calls.

Every mutating call carries an idempotency key the caller derives from the order (or POS sale,
or lottery entry) and the step, so re-sending after a crash or a timeout has one effect. Remote
errors come back as the same `TamaruError` the other service raised.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.messaging.commands import CommandClient
from services.redeem.domain.orders import LineRequest
from tamaru.accounts.v1 import commands_pb2 as acc
from tamaru.accounts.v1 import ledger_pb2, members_pb2
from tamaru.catalog.v1 import commands_pb2 as cat
from tamaru.catalog.v1 import items_pb2, shipping_pb2

ACTOR = "redeem"


def order_source(order_id: str) -> ledger_pb2.Source:
    return ledger_pb2.Source(type=ledger_pb2.SOURCE_TYPE_ORDER, id=order_id)


def by_account(member_id: str) -> members_pb2.MemberSelector:
    return members_pb2.MemberSelector(account_id=member_id)


def item_lines(lines: Sequence[LineRequest]) -> list[items_pb2.ItemLine]:
    return [items_pb2.ItemLine(sku=line.sku, quantity=line.quantity) for line in lines]


class Accounts:
    def __init__(self, commands: CommandClient, program_id: str) -> None:
        self._commands = commands
        self._program = program_id

    async def resolve(
        self, member: members_pb2.MemberSelector
    ) -> acc.LedgerCommandServiceResolveIdentifierResponse:
        return await self._commands.call(
            "accounts",
            "ResolveIdentifier",
            acc.LedgerCommandServiceResolveIdentifierRequest(member=member),
            acc.LedgerCommandServiceResolveIdentifierResponse,
            program_id=self._program,
        )

    async def place_hold(
        self, member_id: str, amount: int, order_id: str, ttl_seconds: int, key: str
    ) -> acc.LedgerCommandServicePlaceHoldResponse:
        return await self._commands.call(
            "accounts",
            "PlaceHold",
            acc.LedgerCommandServicePlaceHoldRequest(
                member=by_account(member_id),
                amount=amount,
                ttl_seconds=ttl_seconds,
                source=order_source(order_id),
                reason=f"order {order_id}",
                actor=ACTOR,
            ),
            acc.LedgerCommandServicePlaceHoldResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def capture_hold(
        self, hold_id: str, order_id: str, key: str
    ) -> acc.LedgerCommandServiceCaptureHoldResponse:
        return await self._commands.call(
            "accounts",
            "CaptureHold",
            acc.LedgerCommandServiceCaptureHoldRequest(
                hold_id=hold_id, reason=f"order {order_id} confirmed", actor=ACTOR
            ),
            acc.LedgerCommandServiceCaptureHoldResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def release_hold(
        self, hold_id: str, reason: str, key: str
    ) -> acc.LedgerCommandServiceReleaseHoldResponse:
        return await self._commands.call(
            "accounts",
            "ReleaseHold",
            acc.LedgerCommandServiceReleaseHoldRequest(hold_id=hold_id, reason=reason, actor=ACTOR),
            acc.LedgerCommandServiceReleaseHoldResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def reverse(
        self, transaction_id: str, source: ledger_pb2.Source, reason: str, key: str
    ) -> acc.LedgerCommandServiceReverseResponse:
        return await self._commands.call(
            "accounts",
            "Reverse",
            acc.LedgerCommandServiceReverseRequest(
                transaction_id=transaction_id, source=source, reason=reason, actor=ACTOR
            ),
            acc.LedgerCommandServiceReverseResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def credit(
        self, member_id: str, amount: int, source: ledger_pb2.Source, reason: str, key: str
    ) -> acc.LedgerCommandServiceCreditResponse:
        return await self._commands.call(
            "accounts",
            "Credit",
            acc.LedgerCommandServiceCreditRequest(
                member=by_account(member_id),
                amount=amount,
                source=source,
                reason=reason,
                actor=ACTOR,
            ),
            acc.LedgerCommandServiceCreditResponse,
            program_id=self._program,
            idempotency_key=key,
        )

    async def debit(
        self, member_id: str, amount: int, source: ledger_pb2.Source, reason: str, key: str
    ) -> acc.LedgerCommandServiceDebitResponse:
        return await self._commands.call(
            "accounts",
            "Debit",
            acc.LedgerCommandServiceDebitRequest(
                member=by_account(member_id),
                amount=amount,
                source=source,
                reason=reason,
                actor=ACTOR,
            ),
            acc.LedgerCommandServiceDebitResponse,
            program_id=self._program,
            idempotency_key=key,
        )


class Catalog:
    def __init__(self, commands: CommandClient, program_id: str) -> None:
        self._commands = commands
        self._program = program_id

    async def quote_shipping(
        self, lines: Sequence[LineRequest], prefecture: str, postal_code: str
    ) -> shipping_pb2.QuoteShippingResponse:
        return await self._commands.call(
            "catalog",
            "QuoteShipping",
            shipping_pb2.QuoteShippingRequest(
                lines=item_lines(lines), prefecture=prefecture, postal_code=postal_code
            ),
            shipping_pb2.QuoteShippingResponse,
            program_id=self._program,
        )

    async def reserve(
        self,
        order_id: str,
        member_id: str,
        lines: Sequence[LineRequest],
        ttl_seconds: int,
        key: str,
    ) -> cat.Reservation:
        response = await self._commands.call(
            "catalog",
            "ReserveStock",
            cat.ReserveStockRequest(
                order_id=order_id,
                member_id=member_id,
                lines=item_lines(lines),
                ttl_seconds=ttl_seconds,
                idempotency_key=key,
            ),
            cat.ReserveStockResponse,
            program_id=self._program,
            idempotency_key=key,
        )
        return response.reservation

    async def commit(self, reservation_id: str, key: str) -> cat.Reservation:
        response = await self._commands.call(
            "catalog",
            "CommitReservation",
            cat.CommitReservationRequest(reservation_id=reservation_id, idempotency_key=key),
            cat.CommitReservationResponse,
            program_id=self._program,
            idempotency_key=key,
        )
        return response.reservation

    async def release(self, reservation_id: str, reason: str, key: str) -> cat.Reservation:
        response = await self._commands.call(
            "catalog",
            "ReleaseReservation",
            cat.ReleaseReservationRequest(
                reservation_id=reservation_id, reason=reason[:200], idempotency_key=key
            ),
            cat.ReleaseReservationResponse,
            program_id=self._program,
            idempotency_key=key,
        )
        return response.reservation

    async def return_stock(self, reservation_id: str, reason: str, key: str) -> cat.Reservation:
        response = await self._commands.call(
            "catalog",
            "ReturnStock",
            cat.ReturnStockRequest(
                reservation_id=reservation_id, reason=reason[:200], idempotency_key=key
            ),
            cat.ReturnStockResponse,
            program_id=self._program,
            idempotency_key=key,
        )
        return response.reservation

    async def issue_codes(self, reservation_id: str, key: str) -> cat.IssueCodesResponse:
        return await self._commands.call(
            "catalog",
            "IssueCodes",
            cat.IssueCodesRequest(reservation_id=reservation_id, idempotency_key=key),
            cat.IssueCodesResponse,
            program_id=self._program,
            idempotency_key=key,
        )
