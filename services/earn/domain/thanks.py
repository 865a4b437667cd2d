"""Thanks points: the checks a gift must pass (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from runtime.programs.spec_earn import Thanks

MAX_MESSAGE = 1000
MAX_RECEIVERS = 50


def check_gift(
    settings: Thanks,
    *,
    sender: str,
    receivers: Sequence[str],
    points: int,
    message: str,
    given_this_month: int,
) -> None:
    """Refuse a thanks the program's settings do not allow, naming the field at fault."""
    if not settings.enabled:
        raise FailedPrecondition("this program has no thanks points", reason="THANKS_DISABLED")
    if not receivers:
        raise InvalidArgument("name at least one receiver", field="receivers")
    if len(receivers) > MAX_RECEIVERS:
        raise InvalidArgument(f"at most {MAX_RECEIVERS} receivers", field="receivers")
    seen: set[str] = set()
    for index, receiver in enumerate(receivers):
        if receiver == sender:
            raise InvalidArgument(
                "members cannot thank themselves", reason="SELF_THANKS", field=f"receivers[{index}]"
            )
        if receiver in seen:
            raise InvalidArgument("the receiver is named twice", field=f"receivers[{index}]")
        seen.add(receiver)
    if not 0 < points <= settings.max_per_gift:
        raise InvalidArgument(
            f"points must be between 1 and {settings.max_per_gift:,} (the most per gift)",
            field="points",
        )
    if len(message) > MAX_MESSAGE:
        raise InvalidArgument(f"message must be at most {MAX_MESSAGE} characters", field="message")
    if settings.funding == "sponsor":
        left = max(0, settings.monthly_allowance - given_this_month)
        if points * len(receivers) > left:
            raise FailedPrecondition(
                f"the sender has {left:,} points left to give this month",
                reason="ALLOWANCE_EXHAUSTED",
                field="points",
            )


def check_party(member: str, sender: str, receiver: str, field: str) -> None:
    """Only a thanks' sender and receiver read its thread and reply in it."""
    if member not in (sender, receiver):
        raise PermissionDenied(
            "only the sender and the receiver of a thanks can read or reply to it",
            reason="NOT_A_PARTY",
            field=field,
        )
