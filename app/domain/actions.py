"""Changes made in the hub itself (API, dashboard): the same path as provider changes."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session as Db

from app.db import iso, utcnow
from app.domain.sessions import Applied, apply_change, load_for_update
from app.errors import Forbidden, NotFound
from app.models import Coach
from connectors.base import Change

_EVENT = {
    "confirmed": "confirmed",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "completed": "outcome_recorded",
    "no_show": "outcome_recorded",
}


def change_status(
    db: Db,
    session_id: uuid.UUID,
    status: str,
    *,
    by: str,
    reason: str | None = None,
    notes: str | None = None,
) -> Applied:
    """Move a session to `status` on behalf of the platform, the coach or the attendee."""
    session = load_for_update(db, session_id)
    if session is None:
        raise NotFound("no such session", field="session_id")
    now = utcnow()
    if status == "cancelled" and by == "attendee" and session.status != "cancelled":
        coach = db.get(Coach, session.coach_id)
        notice = timedelta(minutes=coach.cancellation_notice_minutes if coach else 0)
        deadline = session.start_at - notice
        if now > deadline:
            raise Forbidden(
                "the attendee can no longer cancel: the coach's cancellation notice has passed",
                code="inside_cancellation_notice",
                field="by",
                deadline=iso(deadline),
            )
    change = Change(
        source="api",
        external_id="",
        session_id=str(session_id),
        event=_EVENT.get(status, status),
        occurred_at=now,
        status=status,
        cancellation_reason=reason if status in ("cancelled", "rejected") else None,
        cancelled_by=by,
        notes=notes,
    )
    return apply_change(db, change)
