"""Availability: weekly hours and dated overrides in the coach's zone, minus what is taken.

Everything is an interval algorithm over the queried window only: open intervals from the
rules (built per local day, so a 09:00–17:00 rule stays 09:00–17:00 local across DST),
merged, minus sorted busy intervals, then cut into slot starts. Cost follows the window, never
the coach's whole history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Rule:
    """Weekly hours: weekday 0 = Monday, local wall-clock start and end."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Override:
    """A dated change: extra hours (available), a blocked range, or a blocked day (no times)."""

    on: date
    available: bool
    start: time | None = None
    end: time | None = None


def local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock moment as aware UTC (a time in a DST gap moves forward, as clocks do)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _day_end(day: date, end: time, zone: ZoneInfo) -> datetime:
    # "24:00" is stored as 00:00 of the next day
    if end == time(0):
        return local(day + timedelta(days=1), time(0), zone)
    return local(day, end, zone)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined."""
    out: list[Interval] = []
    for start, end in sorted(intervals):
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(opened: Sequence[Interval], taken: Sequence[Interval]) -> list[Interval]:
    """`opened` minus `taken` (both merged and sorted): one sweep over both lists."""
    out: list[Interval] = []
    j = 0
    for start, end in opened:
        cursor = start
        while j < len(taken) and taken[j][1] <= cursor:
            j += 1
        k = j
        while k < len(taken) and taken[k][0] < end:
            if taken[k][0] > cursor:
                out.append((cursor, taken[k][0]))
            cursor = max(cursor, taken[k][1])
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return out


def open_intervals(
    rules: Sequence[Rule],
    overrides: Sequence[Override],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    *,
    clip: bool = True,
) -> list[Interval]:
    """When the coach offers time, inside [start, end) (whole openings around it if not clip)."""
    by_day: dict[date, list[Override]] = {}
    for o in overrides:
        by_day.setdefault(o.on, []).append(o)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    opened: list[Interval] = []
    blocked: list[Interval] = []
    day = first
    while day <= last:
        todays = by_day.get(day, [])
        if not any(not o.available and o.start is None for o in todays):
            opened += [
                (local(day, r.start, zone), _day_end(day, r.end, zone))
                for r in rules
                if r.weekday == day.weekday()
            ]
        for o in todays:
            if o.start is not None and o.end is not None:
                span = (local(day, o.start, zone), _day_end(day, o.end, zone))
                (opened if o.available else blocked).append(span)
        day += timedelta(days=1)
    whole = subtract(merge(opened), merge(blocked))
    if not clip:
        return whole
    clipped = [(max(a, start), min(b, end)) for a, b in whole]
    return [i for i in clipped if i[0] < i[1]]


def slot_starts(
    opened: Sequence[Interval],
    free: Sequence[Interval],
    duration: timedelta,
    step: timedelta,
    zone: ZoneInfo,
    not_before: datetime,
) -> list[Interval]:
    """Bookable (start, end) pairs on a grid anchored at the start of each opening.

    A 09:00 opening offers 09:00, 09:00 + step, … whatever the step and whatever DST does.
    Stepping in real time means a start inside a DST gap never appears; a local wall time
    that happens twice (clocks going back) is offered once.
    """
    out: list[Interval] = []
    seen_local: set[datetime] = set()
    step_s = int(step.total_seconds())
    k = 0
    for a, b in free:
        if b - a < duration or b - not_before < duration:  # most gaps are too short
            continue
        while k < len(opened) and opened[k][1] < b:
            k += 1
        anchor = opened[k][0] if k < len(opened) and opened[k][0] <= a else a
        a = max(a, not_before)
        offset = int((a - anchor).total_seconds())
        t = anchor + timedelta(seconds=-(-offset // step_s) * step_s)
        while t + duration <= b:
            wall = t.astimezone(zone).replace(tzinfo=None)
            if wall not in seen_local:
                seen_local.add(wall)
                out.append((t, t + duration))
            t += step
    return out


def slots(
    rules: Sequence[Rule],
    overrides: Sequence[Override],
    zone: ZoneInfo,
    taken: Iterable[Interval],
    start: datetime,
    end: datetime,
    duration: timedelta,
    step: timedelta,
    not_before: datetime,
) -> list[Interval]:
    """Every bookable slot in [start, end): open hours minus what is taken."""
    whole = open_intervals(rules, overrides, zone, start, end, clip=False)
    opened = [(max(a, start), min(b, end)) for a, b in whole if max(a, start) < min(b, end)]
    free = subtract(opened, merge(taken))
    return slot_starts(whole, free, duration, step, zone, not_before)
