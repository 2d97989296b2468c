"""Every status transition: allowed and refused (DESIGN §3)."""

from __future__ import annotations

import itertools

import pytest

from app.domain.status import can_move, check_move
from app.errors import InvalidTransition
from app.models import SESSION_STATUSES

ALLOWED = {
    ("requested", "confirmed"),
    ("requested", "rejected"),
    ("requested", "cancelled"),
    ("confirmed", "completed"),
    ("confirmed", "no_show"),
    ("confirmed", "cancelled"),
    ("confirmed", "awaiting_reschedule"),
    ("awaiting_reschedule", "confirmed"),
    ("awaiting_reschedule", "requested"),
    ("awaiting_reschedule", "cancelled"),
    ("completed", "no_show"),
    ("no_show", "completed"),
}
PAIRS = [(a, b) for a, b in itertools.product(SESSION_STATUSES, repeat=2) if a != b]


@pytest.mark.parametrize(("current", "target"), PAIRS)
def test_transition_table(current: str, target: str) -> None:
    expected = (current, target) in ALLOWED
    assert can_move(current, target) is expected
    if expected:
        check_move(current, target)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_move(current, target)
        assert info.value.status == 409
        assert current in info.value.message
        assert info.value.body()["current"] == current


@pytest.mark.parametrize("status", SESSION_STATUSES)
def test_staying_put_is_always_allowed(status: str) -> None:
    assert can_move(status, status)


def test_confirmed_to_requested_only_as_part_of_a_reschedule() -> None:
    assert not can_move("confirmed", "requested")
    assert can_move("confirmed", "requested", rescheduling=True)
    assert not can_move("cancelled", "requested", rescheduling=True)


@pytest.mark.parametrize("final", ["cancelled", "rejected"])
def test_final_states_accept_nothing(final: str) -> None:
    assert not any(can_move(final, t, rescheduling=True) for t in SESSION_STATUSES if t != final)
