"""What is taken in a coach's time: sessions (with the coach's buffer) and linked-calendar busy.

Both queries are bounded by the window (index on coach and start), so their cost follows the
window, not the coach's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from sqlalchemy import literal, union_all
from sqlmodel import Session as Db
from sqlmodel import col, select

from app.domain.availability import Interval, Override, Rule
from app.models import AvailabilityOverride, AvailabilityRule, BusyInterval, Session

#: no session or calendar event the hub tracks is longer than this (bounds the index scan)
LONGEST = timedelta(days=2)
INACTIVE = ("cancelled", "rejected")
_sessions = Session.__table__  # type: ignore[attr-defined]
_busy = BusyInterval.__table__  # type: ignore[attr-defined]


def taken(
    db: Db,
    coach_id: uuid.UUID,
    start: datetime,
    end: datetime,
    buffer: timedelta,
    ignore: uuid.UUID | None = None,
) -> list[Interval]:
    """Intervals the coach cannot be booked in, inside [start, end) (buffer around sessions).

    One round trip, through Core (no ORM rows: a busy coach has hundreds of intervals).
    """
    s, b = _sessions.c, _busy.c
    sessions = select(literal(True), s.start_at, s.end_at).where(
        s.coach_id == coach_id,
        s.start_at >= start - buffer - LONGEST,
        s.start_at < end + buffer,
        s.end_at > start - buffer,
        s.status.not_in(INACTIVE),
    )
    if ignore is not None:
        sessions = sessions.where(s.id != ignore)
    busy = select(literal(False), b.start_at, b.end_at).where(
        b.coach_id == coach_id,
        b.start_at >= start - LONGEST,
        b.start_at < end,
        b.end_at > start,
    )
    rows = db.connection().execute(union_all(sessions, busy))
    return [(a - buffer, e + buffer) if is_session else (a, e) for is_session, a, e in rows]


def stored_time(text: str) -> time:
    """A stored HH:MM (\"24:00\" = the end of the day, kept as 00:00)."""
    return time(0) if text == "24:00" else time(int(text[:2]), int(text[3:5]))


def hours(db: Db, coach_id: uuid.UUID) -> tuple[list[Rule], list[Override]]:
    """The coach's weekly rules (in entry order) and dated overrides (by date)."""
    rules = [
        Rule(r.weekday, stored_time(r.start_time), stored_time(r.end_time))
        for r in db.exec(
            select(AvailabilityRule)
            .where(AvailabilityRule.coach_id == coach_id)
            .order_by(col(AvailabilityRule.id))
        )
    ]
    overrides = [
        Override(
            o.on_date,
            o.available,
            stored_time(o.start_time) if o.start_time else None,
            stored_time(o.end_time) if o.end_time else None,
        )
        for o in db.exec(
            select(AvailabilityOverride)
            .where(AvailabilityOverride.coach_id == coach_id)
            .order_by(col(AvailabilityOverride.on_date))
        )
    ]
    return rules, overrides
