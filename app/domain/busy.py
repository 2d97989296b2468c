"""What is taken in a coach's time: sessions (with the coach's buffer) and linked-calendar busy.

Both queries are bounded by the window (index on coach and start), so their cost follows the
window, not the coach's history.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session as Db
from sqlmodel import col, select

from app.domain.availability import Interval
from app.models import BusyInterval, Session

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
