"""Slots against a brute-force reference: random hours, busy time, notice, duration and step.

The reference walks every grid point of every opening (a start every `step` from the
opening's start) and keeps those whose whole slot is open, free and after the notice; the
sweep in `app.domain.availability` must find exactly those, whatever it skips on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from app.domain.availability import Interval, Rule, open_intervals, slots
from tests.fuzz import strategies  # noqa: F401 - registers the profiles

START = datetime(2026, 10, 20, tzinfo=UTC)  # the window spans Europe's clocks going back
ZONES = [ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), ZoneInfo("UTC")]

minutes = st.integers(min_value=0, max_value=12 * 24 * 60)
busy = st.lists(
    st.tuples(minutes, st.integers(min_value=5, max_value=180)).map(
        lambda p: (START + timedelta(minutes=p[0]), START + timedelta(minutes=p[0] + p[1]))
    ),
    max_size=120,
)
rules = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6),
        st.integers(min_value=0, max_value=22),
        st.integers(min_value=1, max_value=12),
    ).map(lambda r: Rule(r[0], time(r[1]), time(min(r[1] + r[2], 23), 30))),
    min_size=1,
    max_size=10,
)


def reference(
    rules: list[Rule],
    zone: ZoneInfo,
    taken: list[Interval],
    end: datetime,
    duration: timedelta,
    step: timedelta,
    not_before: datetime,
) -> list[datetime]:
    whole = open_intervals(rules, [], zone, START, end, clip=False)
    found: dict[datetime, datetime] = {}  # local wall time -> first start with it
    for a, b in whole:
        t = a
        while t + duration <= b:
            inside = t >= START and t + duration <= end and t >= not_before
            free = all(t + duration <= s or t >= e for s, e in taken)
            wall = t.astimezone(zone).replace(tzinfo=None)
            if inside and free and wall not in found:
                found[wall] = t
            t += step
    return sorted(found.values())


@given(
    rules=rules,
    taken=busy,
    zone=st.sampled_from(ZONES),
    days=st.integers(min_value=1, max_value=12),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    step=st.sampled_from([10, 15, 30, 60]),
    notice=st.integers(min_value=-600, max_value=3 * 24 * 60),
)
def test_slots_are_exactly_the_free_grid_points(
    rules: list[Rule],
    taken: list[Interval],
    zone: ZoneInfo,
    days: int,
    duration: int,
    step: int,
    notice: int,
) -> None:
    end = START + timedelta(days=days)
    length, every = timedelta(minutes=duration), timedelta(minutes=step)
    not_before = START + timedelta(minutes=notice)
    found = slots(rules, [], zone, taken, START, end, length, every, not_before)
    assert [s for s, _ in found] == reference(rules, zone, taken, end, length, every, not_before)
    assert all(e - s == length for s, e in found)
