"""iCalendar (RFC 5545/5546) views of sessions: one invitation, and a coach's secret feed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import icalendar
from sqlmodel import Session as Db
from sqlmodel import col, select

from app.db import utcnow
from app.kv import read_value, write_value
from app.models import Coach, KeyValue, Session

PRODID = "-//SessionHub//EN"
#: sessions whose slot is given up: their invitation is a CANCEL
ENDED = frozenset({"cancelled", "rejected"})
_STATUS = {
    "requested": "TENTATIVE",
    "awaiting_reschedule": "TENTATIVE",
    "cancelled": "CANCELLED",
    "rejected": "CANCELLED",
}
#: the feed's window around now, and a cap on its size
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=365)
FEED_MAX_EVENTS = 5000
_NO_TOKEN = hashlib.sha256(b"no feed").hexdigest()


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _address(email: str, name: str | None, **params: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    for key, value in params.items():
        address.params[key] = value
    return address


def session_event(session: Session, coach: Coach) -> icalendar.Event:
    """The session as one VEVENT (UID stable, SEQUENCE = the session's version)."""
    event = icalendar.Event()
    event.add("uid", f"{session.id}@sessionhub")
    event.add("sequence", session.version)
    event.add("dtstamp", _utc(session.updated_at))
    event.add("dtstart", _utc(session.start_at))
    event.add("dtend", _utc(session.end_at))
    event.add("summary", session.title or "Session")
    if session.meeting_url:
        event.add("description", f"Join: {session.meeting_url}")
        event.add("url", session.meeting_url)
    where = session.meeting_url or session.location
    if where:
        event.add("location", where)
    event.add("organizer", _address(coach.email, coach.name))
    if session.attendee_email:
        event.add(
            "attendee",
            _address(session.attendee_email, session.attendee_name, ROLE="REQ-PARTICIPANT"),
        )
    event.add("status", _STATUS.get(session.status, "CONFIRMED"))
    return event


def _calendar(method: str) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    return calendar


def session_calendar(session: Session, coach: Coach) -> bytes:
    """One session as an invitation: METHOD REQUEST, or CANCEL once it is given up."""
    calendar = _calendar("CANCEL" if session.status in ENDED else "REQUEST")
    calendar.add_component(session_event(session, coach))
    return bytes(calendar.to_ical())


def coach_feed(coach: Coach, sessions: Iterable[Session]) -> bytes:
    """A coach's sessions as a subscribable calendar (METHOD PUBLISH)."""
    calendar = _calendar("PUBLISH")
    calendar.add("x-wr-calname", f"SessionHub: {coach.name or coach.email}")
    calendar.add("x-wr-timezone", coach.timezone)
    for session in sessions:
        calendar.add_component(session_event(session, coach))
    return bytes(calendar.to_ical())


# --- the secret feed URL ----------------------------------------------------------------


def feed_key(coach_id: uuid.UUID) -> str:
    """The kv_state name holding the SHA-256 of a coach's feed token."""
    return f"ics-feed:{coach_id}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_feed_token(db: Db, coach_id: uuid.UUID) -> str:
    """A new feed token (replacing any earlier one); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    write_value(db, feed_key(coach_id), _digest(token))
    return token


def revoke_feed_token(db: Db, coach_id: uuid.UUID) -> None:
    """Forget the coach's feed token (nothing to do when there is none)."""
    row = db.get(KeyValue, feed_key(coach_id))
    if row is not None:
        db.delete(row)


def feed_token_matches(db: Db, coach_id: uuid.UUID, token: str) -> bool:
    """Whether the token is the coach's current one (constant-time comparison)."""
    stored = read_value(db, feed_key(coach_id))
    same = hmac.compare_digest(stored or _NO_TOKEN, _digest(token))
    return bool(stored) and same


def feed_sessions(db: Db, coach_id: uuid.UUID, now: datetime | None = None) -> list[Session]:
    """The coach's sessions from 30 days ago to a year ahead, by start."""
    now = now or utcnow()
    query = (
        select(Session)
        .where(
            Session.coach_id == coach_id,
            col(Session.start_at) >= now - FEED_PAST,
            col(Session.start_at) < now + FEED_AHEAD,
        )
        .order_by(col(Session.start_at), col(Session.id))
        .limit(FEED_MAX_EVENTS)
    )
    return list(db.exec(query))
