"""Sending reminders: each one at its time, once, never after a cancel or a move."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from app.db import iso, utcnow
from app.hub import Hub, hub
from app.ics import session_calendar
from app.mailer import send
from app.models import Coach, Reminder, Session, SessionEvent
from app.outbox import dispatch_outbound, emit

log = logging.getLogger(__name__)

#: a reminder is sent if its job runs up to this early (queue delays are not exact)
EARLY = timedelta(seconds=30)
#: how far ahead reminders get a delayed job: the minute sweep queues each one this long
#: before it is due (to the second), so a session booked weeks ahead costs no jobs now, and
#: a move or a cancel leaves no stale jobs behind for weeks
LOOKAHEAD = timedelta(minutes=3)


def enqueue_reminders(h: Hub, session_id: object, now: datetime | None = None) -> int:
    """Queue the session's unsent reminders that fall due within the lookahead (the sweep
    queues the later ones when their time comes near)."""
    now = now or utcnow()
    with h.db.session() as db:
        rows = list(
            db.exec(
                select(Reminder.id, Reminder.due_at).where(
                    Reminder.session_id == session_id,
                    col(Reminder.sent_at).is_(None),
                    col(Reminder.cancelled_at).is_(None),
                    Reminder.due_at <= now + LOOKAHEAD,
                )
            )
        )
    return sum(1 for rid, due_at in rows if _queue(h, rid, due_at, now))


def _queue(h: Hub, reminder_id: int | None, due_at: datetime, now: datetime) -> bool:
    """A delayed job for one reminder at its due time (coalesced per reminder and time)."""
    return h.enqueue(
        f"reminder:{reminder_id}:{int(due_at.timestamp())}",
        "jobs.reminders.send_reminder",
        reminder_id,
        delay=max(0.0, (due_at - now).total_seconds()),
    )


def send_due_reminders(now: datetime | None = None) -> int:
    """Every minute: queue the reminders falling due within the lookahead for their exact
    time, and the overdue ones (their job was lost) at once."""
    h, now = hub(), now or utcnow()
    with h.db.session() as db:
        rows = list(
            db.exec(
                select(Reminder.id, Reminder.due_at).where(
                    col(Reminder.sent_at).is_(None),
                    col(Reminder.cancelled_at).is_(None),
                    Reminder.due_at <= now + LOOKAHEAD,
                )
            )
        )
    return sum(1 for rid, due_at in rows if rid is not None and _queue(h, rid, due_at, now))


def send_reminder(reminder_id: int, now: datetime | None = None) -> str:
    """Send one reminder if it is still wanted; the row stays locked until it is marked sent."""
    h, now = hub(), now or utcnow()
    with h.db.session() as db:
        reminder = db.exec(
            select(Reminder).where(Reminder.id == reminder_id).with_for_update()
        ).first()
        if reminder is None or reminder.sent_at is not None or reminder.cancelled_at is not None:
            return "skipped"
        if reminder.due_at > now + EARLY:
            return "not_due"  # moved later since this job was queued; its own job will come
        session = db.get(Session, reminder.session_id)
        coach = db.get(Coach, session.coach_id) if session else None
        if session is None or coach is None or session.status != "confirmed":
            reminder.cancelled_at = now
            db.add(reminder)
            return "cancelled"
        channels = ["webhook"]
        if h.settings.smtp_url:
            send(h.settings.smtp_url, _message(h, session, coach, reminder))
            channels.insert(0, "email")
        outbound = emit(
            db,
            "session.reminder",
            {
                "session_id": str(session.id),
                "recipient": reminder.recipient,
                "offset_minutes": reminder.offset_minutes,
                "start_at": iso(session.start_at),
            },
        )
        reminder.sent_at = now
        db.add(reminder)
        db.add(
            SessionEvent(
                session_id=session.id,
                kind="reminder_sent",
                source="hub",
                version=session.version,
                data={
                    "recipient": reminder.recipient,
                    "channels": channels,
                    "offset_minutes": reminder.offset_minutes,
                    "occurred_at": now.isoformat(),
                },
            )
        )
    dispatch_outbound(h, outbound)
    log.info(
        "reminder sent",
        extra={
            "session_id": str(session.id),
            "recipient": reminder.recipient,
            "offset_minutes": reminder.offset_minutes,
        },
    )
    return "sent"


def _message(h: Hub, session: Session, coach: Coach, reminder: Reminder) -> EmailMessage:
    to_coach = reminder.recipient == "coach"
    zone = ZoneInfo((coach.timezone if to_coach else session.attendee_timezone) or session.timezone)
    when = session.start_at.astimezone(zone)
    other = (
        session.attendee_name or session.attendee_email if to_coach else coach.name or coach.email
    )
    msg = EmailMessage()
    msg["From"] = h.settings.mail_from
    msg["To"] = coach.email if to_coach else session.attendee_email
    msg["Subject"] = f"Reminder: {session.title or 'your session'} — {when:%a %d %b, %H:%M %Z}"
    lines = [
        f"Your session with {other} starts {when:%A %d %B %Y at %H:%M %Z}.",
        f"It lasts {int((session.end_at - session.start_at).total_seconds() // 60)} minutes.",
    ]
    if session.kind == "video" and session.meeting_url:
        lines.append(f"Join the call: {session.meeting_url}")
    elif session.location:
        lines.append(f"Where: {session.location}")
    msg.set_content("\n".join(lines) + "\n")
    msg.add_attachment(
        session_calendar(session, coach),
        maintype="text",
        subtype="calendar",
        filename=f"session-{session.id}.ics",
    )
    return msg
