"""What is taken in a coach's time: sessions (with the coach's buffer) and linked-calendar busy.

Both queries are bounded by the window (index on coach and start), so their cost follows the
window, not the coach's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from sqlmodel import Session as Db
from sqlmodel import col, select

from app.domain.availability import Interval, Override, Rule
from app.models import AvailabilityOverride, AvailabilityRule, BusyInterval, Session

#: no session or calendar event the hub tracks is longer than this (bounds the index scan)
LONGEST = timedelta(days=2)
INACTIVE = ("cancelled", "rejected")


def taken(
    db: Db,
    coach_id: uuid.UUID,
    start: datetime,
    end: datetime,
    buffer: timedelta,
    ignore: uuid.UUID | None = None,
) -> list[Interval]:
    """Intervals the coach cannot be booked in, inside [start, end) (buffer around sessions)."""
    lo, hi = start - buffer - LONGEST, end + buffer
    sessions = db.exec(
        select(Session.id, Session.start_at, Session.end_at).where(
            Session.coach_id == coach_id,
            col(Session.start_at) >= lo,
            col(Session.start_at) < hi,
            col(Session.status).not_in(INACTIVE),
        )
    )
    out = [
        (s - buffer, e + buffer) for sid, s, e in sessions if sid != ignore and e + buffer > start
    ]
    busy = db.exec(
        select(BusyInterval.start_at, BusyInterval.end_at).where(
            BusyInterval.coach_id == coach_id,
            col(BusyInterval.start_at) >= start - LONGEST,
            col(BusyInterval.start_at) < end,
        )
    )
    out += [(s, e) for s, e in busy if e > start]
    return out


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
