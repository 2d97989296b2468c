"""Reminders: planned with every change, moved by a reschedule, cancelled with the session.

Per coach offsets (default 24 h, 1 h, 15 min) for the coach and the attendee. A reminder whose
time has already passed when the session is booked (or moved) is skipped, never sent late.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session as Db
from sqlmodel import select

from app.models import Coach, Reminder, Session

RECIPIENTS = ("coach", "attendee")
#: statuses a reminder is sent for
LIVE = ("confirmed",)


def plan_reminders(db: Db, session: Session, coach: Coach | None, now: datetime) -> None:
    """Bring the session's reminders in line with its time, status and the coach's offsets."""
    rows = {
        (r.offset_minutes, r.recipient): r
        for r in db.exec(
            select(Reminder).where(Reminder.session_id == session.id, Reminder.channel == "email")
        )
    }
    wanted: dict[tuple[int, str], datetime] = {}
    if session.status in LIVE and coach is not None:
        for offset in coach.reminder_offsets_minutes:
            due = session.start_at - timedelta(minutes=offset)
            if due > now:
                wanted.update({(offset, who): due for who in RECIPIENTS})
    for key, row in rows.items():
        if row.sent_at is not None:
            continue  # never sent twice
        if key in wanted:
            row.due_at, row.cancelled_at = wanted[key], None
        elif row.cancelled_at is None:
            row.cancelled_at = now
        db.add(row)
    for (offset, who), due in wanted.items():
        if (offset, who) not in rows:
            db.add(
                Reminder(
                    session_id=session.id,
                    offset_minutes=offset,
                    recipient=who,
                    channel="email",
                    due_at=due,
                )
            )
    db.flush()
