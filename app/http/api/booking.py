"""Booking and rescheduling through the API (the same domain path as provider changes)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify

from app.domain.booking import MAX_OCCURRENCES, Booking, book, reschedule, weekly
from app.errors import ValidationFailed
from app.http.api import bp, links, schemas
from app.http.api.contract import contract
from app.http.api.params import as_datetime, as_int, as_timezone, as_uuid, body
from app.http.api.views import sessions_json
from app.hub import hub
from app.models import SESSION_KINDS, Session
from app.sync import dispatch, plan
from connectors.base import Person


def _times(data: dict[str, Any]) -> tuple[datetime, datetime]:
    start = as_datetime(data.get("start_at"), "start_at")
    if "end_at" in data:
        end = as_datetime(data.get("end_at"), "end_at")
    elif "duration_minutes" in data:
        end = start + timedelta(
            minutes=as_int(data["duration_minutes"], "duration_minutes", low=5, high=24 * 60)
        )
    else:
        raise ValidationFailed("give end_at or duration_minutes", field="end_at")
    if end <= start:
        raise ValidationFailed("end_at must be after start_at", field="end_at")
    return start, end


def _text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(f"{name} must be text of at most {limit} characters", field=name)
    return value


def _attendee(data: dict[str, Any]) -> Person:
    raw = data.get("attendee")
    if not isinstance(raw, dict):
        raise ValidationFailed("attendee must be an object with email and name", field="attendee")
    email = raw.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise ValidationFailed("attendee.email must be an e-mail address", field="attendee.email")
    name = raw.get("name", "")
    ref = raw.get("client_ref")
    if not isinstance(name, str) or (ref is not None and not isinstance(ref, str)):
        raise ValidationFailed("attendee.name and client_ref must be text", field="attendee")
    return Person(email=email.strip().lower(), name=name, client_ref=ref)


def _occurrences(
    data: dict[str, Any], start: datetime, end: datetime, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    rec = data.get("recurrence")
    if rec is None:
        return [(start, end)]
    if not isinstance(rec, dict) or rec.get("freq") != "weekly":
        raise ValidationFailed("recurrence.freq must be weekly", field="recurrence.freq")
    count = (
        as_int(rec["count"], "recurrence.count", low=1, high=MAX_OCCURRENCES)
        if "count" in rec
        else None
    )
    until = None
    if "until" in rec:
        try:
            until = date.fromisoformat(str(rec["until"]))
        except ValueError as err:
            raise ValidationFailed(
                "recurrence.until must be YYYY-MM-DD", field="recurrence.until"
            ) from err
    if (count is None) == (until is None):
        raise ValidationFailed("recurrence needs count or until (one of them)", field="recurrence")
    return weekly(start, end, zone, count, until)


@bp.post("/sessions")
@contract(
    {201: schemas.Booked},
    body=schemas.Booking,
    errors=(404, 409),
    tag="sessions",
    links=links.of("session_id", links.SESSION),
)
def create_session() -> tuple[Response, int]:
    """Book a session (or a weekly series) in free time; 409 names what is in the way."""
    data = body()
    coach_id = as_uuid(data.get("coach_id"), "coach_id")
    kind = data.get("kind", "video")
    if kind not in SESSION_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(SESSION_KINDS)}", field="kind")
    start, end = _times(data)
    zone_name = as_timezone(data.get("timezone"))
    request = Booking(
        coach_id=coach_id,
        attendee=_attendee(data),
        kind=kind,
        start_at=start,
        end_at=end,
        timezone=zone_name,
        title=_text(data, "title", 500, required=True) or "",
        reason=_text(data, "reason", 2000),
        notes=_text(data, "notes", 10000),
    )
    occurrences = _occurrences(data, start, end, ZoneInfo(zone_name))
    h = hub()
    with h.db.session() as db:
        applied = book(db, request, occurrences)
        targets = [(a.session_id, plan(db, h, a)) for a in applied]
    for session_id, providers in targets:
        dispatch(h, session_id, providers)
    with h.db.session() as db:
        rows = [db.get(Session, a.session_id) for a in applied]
        items = sessions_json(db, [r for r in rows if r is not None])
    if len(items) == 1:
        return jsonify(items[0]), 201
    return jsonify({"series_id": items[0]["series_id"], "items": items}), 201


@bp.patch("/sessions/<session_id>")
@contract({200: schemas.SessionOut}, body=schemas.Reschedule, errors=(404, 409), tag="sessions")
def reschedule_session(session_id: str) -> Response:
    """Move a session to another free time."""
    start, end = _times(body())
    sid = as_uuid(session_id, "session_id")
    h = hub()
    with h.db.session() as db:
        applied = reschedule(db, sid, start, end)
        providers = plan(db, h, applied)
    dispatch(h, sid, providers)
    with h.db.session() as db:
        row = db.get(Session, sid)
        return jsonify(sessions_json(db, [row] if row else [])[0])
