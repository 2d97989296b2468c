"""Personal data: export what the hub holds about a person, and erase it.

GET  /api/people?email=…          everything held about the person, as JSON (200, lists may be
                                  empty: the answer does not depend on whether data exists)
POST /api/people/erase {"email"}  erase it; 200 with counts, idempotent, logged in erasure_log
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, g, jsonify, request

from app import people
from app.db import iso, utcnow
from app.errors import ValidationFailed
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.http.api.params import body
from app.http.api.views import delivery_json, event_json, sessions_json
from app.hub import hub
from app.models import OutboundMessage, Session, WebhookDelivery


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("email is required", field="email")
    email = people.normalise(value)
    if not people.is_email(email):
        raise ValidationFailed(
            f"email must be an e-mail address of at most {people.MAX_EMAIL} characters",
            field="email",
        )
    return email


def _raw(row: WebhookDelivery) -> dict[str, Any]:
    try:
        return {"body": row.body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(row.body).decode(), "body_encoding": "base64"}


def _message(message: OutboundMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "endpoint_id": str(message.endpoint_id),
        "msg_id": message.msg_id,
        "event_type": message.event_type,
        "state": message.state,
        "created_at": iso(message.created_at),
        "delivered_at": iso(message.delivered_at),
        "payload": message.payload,
    }


def _guest_session(session: Session, email: str) -> dict[str, Any]:
    """A session the person was a guest of: their entry and the facts, not the others' data."""
    return {
        "id": str(session.id),
        "status": session.status,
        "start_at": iso(session.start_at),
        "end_at": iso(session.end_at),
        "coach_id": str(session.coach_id),
        "guest": next(
            g
            for g in session.guests
            if isinstance(g, dict) and people.normalise(str(g.get("email") or "")) == email
        ),
    }


@bp.get("/people")
@contract({200: schemas.PersonExport}, query=schemas.PersonQuery, tag="people")
def export_person() -> Response:
    """Everything the hub holds about an attendee or prospect (by e-mail, any case)."""
    unknown = sorted(set(request.args) - {"email"})
    if unknown:
        raise ValidationFailed(f"unknown parameter {unknown[0]!r}", field=unknown[0])
    email = _email(request.args.get("email"))
    h = hub()
    held = people.find(h, email)
    with h.db.session() as db:
        sessions = sessions_json(db, held.sessions)
    for item, session in zip(sessions, held.sessions, strict=True):
        item["events"] = [event_json(e) for e in held.events.get(session.id, [])]
    return jsonify(
        {
            "email": email,
            "generated_at": iso(utcnow()),
            "sessions": sessions,
            "guest_sessions": [_guest_session(s, email) for s in held.guest_sessions],
            "deliveries": [
                {**delivery_json(d), "headers": dict(d.headers), **_raw(d)} for d in held.deliveries
            ],
            "outbound_messages": [_message(m) for m in held.messages],
            "retention_days": h.settings.delivery_retention_days,
            "note": people.NOTE,
        }
    )


@bp.post("/people/erase")
@contract({200: schemas.Erased}, body=schemas.EraseRequest, tag="people")
def erase_person() -> tuple[Response, int]:
    """Erase a person's data from sessions, timelines and stored bodies (idempotent)."""
    data = body()
    unknown = sorted(set(data) - {"email"})
    if unknown:
        raise ValidationFailed(f"unknown field {unknown[0]!r}", field=unknown[0])
    email = _email(data.get("email"))
    done = people.erase(hub(), email, actor=g.api_key.name)
    return jsonify(
        {
            "erased": done.counts,
            "subject": "erased:" + done.subject_hash[:12],
            "previous_erasures": done.previous,
            "note": people.NOTE,
        }
    ), 200
