"""Drives an order's saga to its end: confirmed, failed (every step undone) or cancelled.

Each step's outcome is saved with its log row in one transaction, fenced by the driver's lease,
before the next step starts; so a driver that dies leaves the saga exactly where the last saved
step left it, and the recovery worker (any replica) takes it over once the lease has passed.

How a step's failure is handled:
- a refusal (the remote side said no and changed nothing) before the pivot: undo the steps
  done, newest first;
- a reply we never got (timeout, service unavailable, an unexpected error): the step is run
  again with the same idempotency key, a little later; before the pivot, after `max_attempts`
  the saga gives up and undoes everything, including that step if it did act;
- a payment gateway timeout: the payment is in doubt; it is voided by reference while undoing;
- a failed order answers with a definite code (`final_error`), never one that invites a retry
  of the same key;
- from the pivot (committing stock) on, the saga only moves forward.
Undo steps are retried until they succeed: a compensation that gives up would leave points or
stock held for nobody.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runtime.db.unit_of_work import UnitOfWork, run_in_transaction, run_read
from runtime.errors import FailedPrecondition, TamaruError, Unavailable
from services.redeem.adapters.messages import order_to_proto
from services.redeem.adapters.order_repository import LeaseLost, OrderRepository
from services.redeem.adapters.payment_gateway import GatewayTimeout, PaymentDeclined
from services.redeem.domain import saga
from services.redeem.domain.orders import Order, OrderStatus, SagaPhase
from services.redeem.service_layer.fault_plan import FaultPlan, InjectedFault, SimulatedCrash
from services.redeem.service_layer.saga_steps import OrderSteps, is_definite
from tamaru.redeem.v1 import events_pb2

log = logging.getLogger(__name__)

StepsFor = Callable[[str], OrderSteps]


@dataclass(frozen=True)
class SagaOptions:
    # How long a driver owns a saga without saving progress before another may take over.
    # Lease + the recovery interval must stay well under the shortest hold TTL a program may
    # set (30 s): a saga whose driver died is then resumed while its points hold still stands,
    # instead of failing on an expired hold (a finding of the bank test, docs/reliability.md).
    # A step outliving the lease is safe, only wasteful: saves are fenced and steps idempotent.
    lease: timedelta = timedelta(seconds=10)
    # Tries of a step whose reply never came, before a saga (before the pivot) gives up.
    max_attempts: int = 6
    # Tries within one request before it answers PENDING and leaves the rest to recovery.
    inline_attempts: int = 2
    retry_delay: float = 0.2


class StepFailed(Exception):
    def __init__(self, error: TamaruError, *, in_doubt: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.in_doubt = in_doubt


class StepInterrupted(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def new_owner() -> str:
    return uuid.uuid4().hex


def now() -> datetime:
    return datetime.now(UTC)


def classify(exc: Exception) -> StepFailed | StepInterrupted:
    if isinstance(exc, InjectedFault):
        return StepFailed(exc, in_doubt=exc.after)
    if isinstance(exc, PaymentDeclined):
        return StepFailed(
            FailedPrecondition(
                f"the card payment was declined: {exc}",
                reason="PAYMENT_DECLINED",
                field="payment_token",
            ),
            in_doubt=False,
        )
    if isinstance(exc, GatewayTimeout):
        # The gateway may have authorised: fail the order and void the payment by reference.
        return StepFailed(
            Unavailable(
                "the payment gateway did not answer in time; nothing was charged, try again",
                reason="PAYMENT_TIMEOUT",
                field="payment_token",
            ),
            in_doubt=True,
        )
    if isinstance(exc, TamaruError) and is_definite(exc):
        return StepFailed(exc, in_doubt=False)
    return StepInterrupted(exc)


def final_error(error: TamaruError) -> TamaruError:
    """The error a failed order answers with, on every retry of its key. A refusal stays as it
    came. An outage the saga gave up on (a service not running, a timeout, the gateway's
    silence) becomes FAILED_PRECONDITION with the same reason and message: answered as
    UNAVAILABLE, it would tell clients to retry the same key, which can only get this answer
    again (the bank test's clients did so for their whole budget; docs/reliability.md)."""
    if is_definite(error):
        return error
    return FailedPrecondition(
        f"{error.message} (the order was undone; place it again with a new idempotency key)",
        reason=error.reason,
        field=error.field,
    )


class SagaRunner:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        steps_for: StepsFor,
        *,
        faults: FaultPlan | None = None,
        options: SagaOptions | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self._steps_for = steps_for
        self.faults = faults or FaultPlan()
        self.options = options or SagaOptions()

    async def load(self, order_id: str) -> Order:
        return await run_read(
            self.uow_factory, lambda uow: OrderRepository(uow.session).get(order_id)
        )

    async def claim(self, order_id: str, owner: str) -> bool:
        async def work(uow: UnitOfWork) -> bool:
            return await OrderRepository(uow.session).claim(order_id, owner, self.options.lease)

        return await run_in_transaction(self.uow_factory, work)

    async def drive(self, order_id: str, owner: str) -> Order:
        """Run the saga until it ends or must wait; the caller holds the lease as `owner`."""
        try:
            return await self._drive(order_id, owner)
        except LeaseLost:
            log.info("order %s: lease taken over by another driver", order_id)
            return await self.load(order_id)

    async def _drive(self, order_id: str, owner: str) -> Order:
        tries = 0
        while True:
            order = await self.load(order_id)
            steps = self._steps_for(order.program_id)
            try:
                if order.phase is SagaPhase.DONE:
                    return order
                if order.phase is SagaPhase.FORWARD:
                    await self._forward(order, steps, owner)
                elif order.phase is SagaPhase.COMPENSATING:
                    await self._compensate(order, steps, owner)
                else:
                    await self._cancel(order, steps, owner)
                tries = 0
            except StepInterrupted as interrupted:
                tries += 1
                order = await self.load(order_id)
                if tries < self.options.inline_attempts:
                    await asyncio.sleep(self.options.retry_delay * tries)
                    continue
                return await self._wait(order, owner, interrupted)

    async def _save(
        self, order: Order, owner: str, step: str = "", outcome: str = "", detail: str = ""
    ) -> None:
        async def work(uow: UnitOfWork) -> None:
            await OrderRepository(uow.session).save(
                order,
                owner=owner,
                lease=self.options.lease,
                now=now(),
                step=step,
                outcome=outcome,
                detail=detail,
            )
            event = _EVENT_FOR.get(order.status) if order.phase is SagaPhase.DONE else None
            if event is not None and step in ("confirm", "fail", "cancel"):
                await uow.emit(
                    order.program_id,
                    event,
                    events_pb2.OrderChanged(order=order_to_proto(order)),
                    aggregate_id=order.order_id,
                )

        await run_in_transaction(self.uow_factory, work)

    async def _run(self, name: str, action: Callable[[], Awaitable[Order]]) -> Order:
        try:
            self.faults.check(name, after=False)
            result = await action()
            self.faults.check(name, after=True)
            return result
        except SimulatedCrash:
            raise
        except (StepFailed, StepInterrupted, LeaseLost):
            raise
        except Exception as exc:
            outcome = classify(exc)
            if isinstance(outcome, StepInterrupted) and not isinstance(exc, TamaruError):
                log.exception("order saga step %s failed unexpectedly", name)
            raise outcome from exc

    async def _forward(self, order: Order, steps: OrderSteps, owner: str) -> None:
        step = saga.next_forward_step(order)
        if step is None:
            await self._confirm(order, owner)
            return

        async def checkpoint(updated: Order) -> None:
            await self._save(updated, owner, step, "checkpoint")

        try:
            done = await self._run(step, lambda: steps.forward(step, order, checkpoint))
        except StepFailed as failed:
            if saga.after_pivot(step) and (step != saga.PIVOT or failed.in_doubt):
                raise StepInterrupted(failed.error) from failed
            await self._start_undo(await self.load(order.order_id), step, failed, owner)
            return
        done = dataclasses.replace(done, completed=(*done.completed, step), attempts=0)
        await self._save(done, owner, step, "done")

    async def _start_undo(self, order: Order, step: str, failed: StepFailed, owner: str) -> None:
        error = final_error(failed.error)
        failing = dataclasses.replace(
            order,
            phase=SagaPhase.COMPENSATING,
            in_doubt=step if failed.in_doubt else "",
            failure_reason=error.reason,
            failure_message=error.message,
            failure_code=int(error.code),
            failure_field=error.field,
            attempts=0,
        )
        await self._save(failing, owner, step, "failed", f"{error.reason}: {error.message}")

    async def _wait(self, order: Order, owner: str, interrupted: StepInterrupted) -> Order:
        """Leave the saga to the recovery worker; before the pivot, give up after a while."""
        attempts = order.attempts + 1
        step = saga.next_forward_step(order) if order.phase is SagaPhase.FORWARD else None
        if (
            step is not None
            and not saga.after_pivot(step)
            and attempts >= self.options.max_attempts
        ):
            error = interrupted.error
            if not isinstance(error, TamaruError):
                error = Unavailable(
                    f"step {step} kept failing; the order was undone", reason="STEP_FAILED"
                )
            await self._start_undo(order, step, StepFailed(error, in_doubt=True), owner)
            return await self._drive(order.order_id, owner)
        waiting = dataclasses.replace(order, attempts=attempts)
        detail = f"{type(interrupted.error).__name__}: {interrupted.error}"
        await self._save(waiting, owner, step or order.phase.value, "retry_later", detail)
        delay = min(self.options.retry_delay * 2**attempts, 60.0)

        async def release(uow: UnitOfWork) -> None:
            await OrderRepository(uow.session).release_lease(
                order.order_id, owner, timedelta(seconds=delay)
            )

        await run_in_transaction(self.uow_factory, release)
        return waiting

    async def _confirm(self, order: Order, owner: str) -> None:
        confirmed = dataclasses.replace(
            order,
            status=OrderStatus.CONFIRMED,
            phase=SagaPhase.DONE,
            confirmed_at=now(),
            payment_token="",
        )
        # Announced as order_confirmed: catalog learns the redemption from that event.
        await self._save(confirmed, owner, "confirm", "done")

    async def _compensate(self, order: Order, steps: OrderSteps, owner: str) -> None:
        step = saga.next_undo_step(order)
        if step is None:
            failed = dataclasses.replace(
                order, status=OrderStatus.FAILED, phase=SagaPhase.DONE, payment_token=""
            )
            await self._save(failed, owner, "fail", "done", failed.failure_reason)
            return
        in_doubt = step == order.in_doubt and step not in order.completed
        name = saga.UNDO[step]
        try:
            undone = await self._run(name, lambda: steps.undo(step, order, in_doubt))
        except StepFailed as failed:
            raise StepInterrupted(failed.error) from failed  # an undo is retried, never skipped
        undone = dataclasses.replace(undone, undone=(*undone.undone, step), attempts=0)
        await self._save(undone, owner, name, "done")

    async def _cancel(self, order: Order, steps: OrderSteps, owner: str) -> None:
        step = saga.next_cancel_step(order)
        if step is None:
            cancelled = dataclasses.replace(
                order, status=OrderStatus.CANCELLED, phase=SagaPhase.DONE, cancelled_at=now()
            )
            await self._save(cancelled, owner, "cancel", "done")
            return
        try:
            done = await self._run(step, lambda: steps.cancel(step, order))
        except StepFailed as failed:
            raise StepInterrupted(failed.error) from failed
        done = dataclasses.replace(done, completed=(*done.completed, step), attempts=0)
        await self._save(done, owner, step, "done")


_EVENT_FOR = {
    OrderStatus.CONFIRMED: "order_confirmed",
    OrderStatus.FAILED: "order_failed",
    OrderStatus.CANCELLED: "order_cancelled",
}
