"""The session status machine (DESIGN §3)."""

from __future__ import annotations

from app.errors import InvalidTransition

FINAL = frozenset({"cancelled", "rejected", "completed", "no_show"})

_ALLOWED: dict[str, frozenset[str]] = {
    "requested": frozenset({"confirmed", "rejected", "cancelled"}),
    "confirmed": frozenset({"completed", "no_show", "cancelled", "awaiting_reschedule"}),
    "awaiting_reschedule": frozenset({"confirmed", "requested", "cancelled"}),
    # an outcome may be corrected by the coach (the derived attendance can be wrong)
    "completed": frozenset({"no_show"}),
    "no_show": frozenset({"completed"}),
    "cancelled": frozenset(),
    "rejected": frozenset(),
}

#: moves allowed only when the same change also moves the session's times: a reschedule
#: of a confirmed booking that needs the host's confirmation again (Cal.com fires
#: BOOKING_REQUESTED for it, providers.md §1.3)
_ON_RESCHEDULE: dict[str, frozenset[str]] = {"confirmed": frozenset({"requested"})}


def can_move(current: str, target: str, *, rescheduling: bool = False) -> bool:
    """Whether the machine allows current → target (staying put is always allowed)."""
    if current == target:
        return True
    if target in _ALLOWED.get(current, frozenset()):
        return True
    return rescheduling and target in _ON_RESCHEDULE.get(current, frozenset())


def check_move(current: str, target: str, *, rescheduling: bool = False) -> None:
    """Raise InvalidTransition naming both states when the move is refused."""
    if not can_move(current, target, rescheduling=rescheduling):
        raise InvalidTransition(
            f"a session that is {current} cannot become {target}",
            field="status",
            current=current,
            requested=target,
        )


def allowed_targets(current: str) -> frozenset[str]:
    """The statuses reachable from `current` by a plain change."""
    return _ALLOWED.get(current, frozenset())
