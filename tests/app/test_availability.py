"""Slots: rules, overrides, busy time and DST, as pure interval arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.availability import (
    Override,
    Rule,
    merge,
    open_intervals,
    slots,
    subtract,
)

PARIS, NEW_YORK, SYDNEY = (
    ZoneInfo("Europe/Paris"),
    ZoneInfo("America/New_York"),
    ZoneInfo("Australia/Sydney"),
)
NINE_TO_FIVE = [Rule(d, time(9), time(17)) for d in range(7)]
HALF = timedelta(minutes=30)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def day_slots(
    zone: ZoneInfo, on: date, rules: list[Rule] = NINE_TO_FIVE, **kw: object
) -> list[datetime]:
    start = datetime.combine(on, time(0), tzinfo=zone).astimezone(UTC)
    found = slots(
        rules,
        kw.get("overrides", []),
        zone,
        kw.get("taken", []),
        start,  # type: ignore[arg-type]
        start + timedelta(days=1),
        kw.get("duration", HALF),
        kw.get("step", HALF),  # type: ignore[arg-type]
        kw.get("not_before", utc(2000, 1, 1)),
    )  # type: ignore[arg-type]
    return [s.astimezone(zone) for s, _ in found]


def test_merge_and_subtract() -> None:
    a = [
        (utc(2030, 1, 1, 9), utc(2030, 1, 1, 12)),
        (utc(2030, 1, 1, 11), utc(2030, 1, 1, 13)),
        (utc(2030, 1, 1, 13), utc(2030, 1, 1, 14)),
    ]
    assert merge(a) == [(utc(2030, 1, 1, 9), utc(2030, 1, 1, 14))]
    taken = [(utc(2030, 1, 1, 10), utc(2030, 1, 1, 11)), (utc(2030, 1, 1, 13), utc(2030, 1, 1, 15))]
    assert subtract(merge(a), taken) == [
        (utc(2030, 1, 1, 9), utc(2030, 1, 1, 10)),
        (utc(2030, 1, 1, 11), utc(2030, 1, 1, 13)),
    ]


@pytest.mark.parametrize(
    ("zone", "on"),
    [
        (PARIS, date(2026, 3, 29)),
        (PARIS, date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8)),
        (NEW_YORK, date(2026, 11, 1)),
        (SYDNEY, date(2026, 4, 5)),
        (SYDNEY, date(2026, 10, 4)),
    ],
)
def test_nine_to_five_stays_nine_to_five_on_dst_days(zone: ZoneInfo, on: date) -> None:
    found = day_slots(zone, on)
    assert found[0].time() == time(9)
    assert found[-1].time() == time(16, 30)
    assert len(found) == 16
    assert {s.date() for s in found} == {on}


def test_gap_time_is_skipped_and_repeated_time_offered_once() -> None:
    night = [Rule(6, time(1), time(4))]  # Sundays 01:00–04:00
    spring = day_slots(PARIS, date(2026, 3, 29), night)  # 02:00 → 03:00
    assert [s.strftime("%H:%M") for s in spring] == ["01:00", "01:30", "03:00", "03:30"]
    autumn = day_slots(PARIS, date(2026, 10, 25), night)  # 03:00 → 02:00
    walls = [s.strftime("%H:%M") for s in autumn]
    assert walls == sorted(set(walls))  # each wall time once
    assert "02:30" in walls


def test_overrides_block_a_day_add_hours_and_block_a_range() -> None:
    rules = NINE_TO_FIVE
    blocked = day_slots(
        PARIS, date(2026, 12, 24), rules, overrides=[Override(date(2026, 12, 24), False)]
    )
    assert blocked == []
    sunday_extra = day_slots(
        PARIS,
        date(2026, 12, 27),
        [Rule(0, time(9), time(17))],
        overrides=[Override(date(2026, 12, 27), True, time(10), time(12))],
    )
    assert [s.strftime("%H:%M") for s in sunday_extra] == ["10:00", "10:30", "11:00", "11:30"]
    lunch = day_slots(
        PARIS,
        date(2026, 12, 28),
        rules,
        overrides=[Override(date(2026, 12, 28), False, time(12), time(14))],
    )
    assert "12:00" not in [s.strftime("%H:%M") for s in lunch]
    assert len(lunch) == 12


def test_taken_time_notice_and_grid() -> None:
    on = date(2026, 12, 28)
    start = datetime.combine(on, time(10), tzinfo=PARIS).astimezone(UTC)
    found = day_slots(
        PARIS,
        on,
        taken=[(start, start + timedelta(minutes=45))],
        not_before=datetime.combine(on, time(9, 40), tzinfo=PARIS).astimezone(UTC),
    )
    walls = [s.strftime("%H:%M") for s in found]
    assert walls[:2] == ["11:00", "11:30"]  # 10:45 is off the grid anchored at 09:00
    hour = day_slots(PARIS, on, duration=timedelta(hours=1), step=timedelta(minutes=45))
    assert [s.strftime("%H:%M") for s in hour][:3] == ["09:00", "09:45", "10:30"]


def test_open_intervals_only_cover_the_window() -> None:
    start, end = utc(2026, 12, 28, 10), utc(2026, 12, 28, 12)
    assert open_intervals(NINE_TO_FIVE, [], PARIS, start, end) == [(start, end)]


def test_a_paris_coach_seen_from_new_york() -> None:
    found = day_slots(PARIS, date(2026, 12, 28))
    in_ny = [s.astimezone(NEW_YORK).strftime("%H:%M") for s in found]
    assert in_ny[0] == "03:00"
    assert in_ny[-1] == "10:30"
