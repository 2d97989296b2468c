"""Video calls: join tokens for the session's Daily room, and what happened in the call."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from flask import Response, jsonify
from sqlmodel import col, select

from app.db import iso, utcnow
from app.errors import Forbidden, Gone, NotFound, NotReady, Unavailable, ValidationFailed
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.http.api.params import as_uuid, body
from app.hub import hub
from app.kv import read_value, write_value
from app.models import Coach, ProviderLink, Session, SessionEvent
from connectors.daily.client import DailyClient
from connectors.daily.outbound import join_window
from connectors.daily.tokens import sign_meeting_token
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)

CALL_EVENTS = (
    "call_started",
    "call_ended",
    "participant_joined",
    "participant_left",
    "recording_ready",
)


def _load(session_id: str) -> tuple[Session, Coach | None, ProviderLink | None]:
    with hub().db.session() as db:
        session = db.get(Session, as_uuid(session_id, "session_id"))
        if session is None:
            raise NotFound("no such session", field="session_id")
        link = db.exec(
            select(ProviderLink).where(
                ProviderLink.session_id == session.id,
                ProviderLink.provider == "daily",
                ProviderLink.active,
            )
        ).first()
        return session, db.get(Coach, session.coach_id), link


@bp.post("/sessions/<session_id>/join")
@contract(
    {200: schemas.JoinToken}, body=schemas.JoinRequest, errors=(403, 404, 409, 410), tag="calls"
)
def join(session_id: str) -> tuple[Response, int]:
    """A meeting token for the coach or the attendee, valid inside the room's window."""
    who = body().get("participant")
    if who not in ("coach", "attendee"):
        raise ValidationFailed("participant must be coach or attendee", field="participant")
    session, coach, link = _load(session_id)
    opens, closes = join_window(session.start_at, session.end_at)
    now = utcnow()
    if session.status in ("cancelled", "rejected"):
        raise Gone(f"the session is {session.status}", code="session_closed")
    if now > closes:
        raise Gone("the call is over", code="call_closed", closes_at=iso(closes))
    if now < opens:
        raise Forbidden(
            "the room opens 15 minutes before the start", code="too_early", opens_at=iso(opens)
        )
    api_key = hub().settings.api_keys.get("daily")
    if link is None or session.kind != "video":
        raise NotReady("this session has no Daily room", code="no_room")
    if link.data.get("managed") is False:
        raise NotReady(
            "the room belongs to the booking tool; use the session's meeting_url",
            code="external_room",
            meeting_url=session.meeting_url,
        )
    if not api_key or not link.external_id or link.data.get("deleted"):
        raise NotReady("the room is being prepared, retry in a few seconds")
    domain_id = link.data.get("domain_id") or _domain_id(api_key)
    name = (coach.name if coach else "") if who == "coach" else session.attendee_name
    token = sign_meeting_token(
        api_key,
        domain_id=str(domain_id),
        room_name=link.external_id,
        user_id=who,
        user_name=name or who,
        is_owner=who == "coach",
        nbf=opens,
        exp=closes,
        now=now,
    )
    url = link.data.get("url") or session.meeting_url
    return jsonify(
        {"url": url, "token": token, "opens_at": iso(opens), "closes_at": iso(closes)}
    ), 200


def _domain_id(api_key: str) -> str:
    """The Daily domain id self-signed tokens carry (claim `d`): read from Daily once per hub
    and API key, then kept in the database — never on the path that writes rooms."""
    h = hub()
    name = "daily:domain_id:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]
    with h.db.session() as db:
        known = read_value(db, name)
    if known:
        return known
    try:
        found = DailyClient(api_key, h.settings.api_url("daily")).get_domain().get("domain_id")
    except ConnectorError as err:
        log.warning("Daily's domain could not be read", extra={"reason": str(err)[:200]})
        raise Unavailable(
            "Daily cannot be reached to sign the token, retry in a few seconds",
            code="daily_unavailable",
        ) from err
    if not isinstance(found, str) or not found:
        raise Unavailable("Daily answered without a domain id", code="daily_unavailable")
    with h.db.session() as db:
        write_value(db, name, found)
    return found


@bp.get("/sessions/<session_id>/summary")
@contract({200: schemas.CallSummary}, errors=(404,), tag="calls")
def summary(session_id: str) -> Response:
    """Scheduled against actual times, the call's outcome, who was there, and its timeline."""
    session, _, _ = _load(session_id)
    with hub().db.session() as db:
        events = list(
            db.exec(
                select(SessionEvent)
                .where(
                    SessionEvent.session_id == session.id, col(SessionEvent.kind).in_(CALL_EVENTS)
                )
                .order_by(col(SessionEvent.at), col(SessionEvent.id))
            )
        )
    return jsonify(build_summary(session, events))


def build_summary(session: Session, events: list[SessionEvent]) -> dict[str, Any]:
    """The call summary of a session from its call events."""
    people: dict[str, dict[str, Any]] = {}
    meetings: set[str] = set()
    timeline = []
    for e in sorted(events, key=lambda ev: ev.data.get("occurred_at", "")):
        detail = e.data.get("detail", {})
        if detail.get("meeting_id"):
            meetings.add(detail["meeting_id"])
        timeline.append(
            {
                "at": e.data.get("occurred_at"),
                "kind": e.kind,
                **{k: detail[k] for k in ("role", "user_name", "duration_seconds") if k in detail},
            }
        )
        if e.kind in ("participant_joined", "participant_left"):
            key = detail.get("participant") or detail.get("user_name") or "unknown"
            person = people.setdefault(
                key,
                {
                    "role": detail.get("role"),
                    "user_name": detail.get("user_name"),
                    "joins": 0,
                    "seconds_in_call": 0,
                },
            )
            if e.kind == "participant_joined":
                person["joins"] += 1
                person.setdefault("first_joined_at", detail.get("joined_at"))
            else:
                person["seconds_in_call"] += detail.get("duration_seconds") or 0
                person["last_left_at"] = detail.get("left_at")
    scheduled = (session.end_at - session.start_at).total_seconds()
    actual = (
        (session.actual_end - session.actual_start).total_seconds()
        if session.actual_start and session.actual_end
        else None
    )
    return {
        "session_id": str(session.id),
        "status": session.status,
        "call_status": _call_status(session, meetings),
        "scheduled": {
            "start": iso(session.start_at),
            "end": iso(session.end_at),
            "duration_seconds": int(scheduled),
        },
        "actual": {
            "start": iso(session.actual_start),
            "end": iso(session.actual_end),
            "duration_seconds": int(actual) if actual is not None else None,
        },
        "participants": list(people.values()),
        "timeline": timeline,
    }


def _call_status(session: Session, meetings: set[str]) -> str:
    if session.status == "no_show":
        return "no-show"
    if session.actual_start is None:
        return "scheduled" if utcnow() < session.end_at else "no-show"
    if session.actual_end is None:
        return "in_progress"
    # the call dropped and restarted, or ended well before it was due to
    early = session.actual_end < session.end_at - timedelta(minutes=5)
    return "interrupted" if len(meetings) > 1 or early else "completed"
