"""JSON shapes of the API's resources."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session as Db
from sqlmodel import col, select

from app.http.api.params import iso
from app.models import Coach, ProviderLink, Session, SessionEvent, WebhookDelivery


def coach_json(coach: Coach) -> dict[str, Any]:
    """A coach with their policy settings."""
    return {
        "id": str(coach.id),
        "email": coach.email,
        "name": coach.name,
        "timezone": coach.timezone,
        "cancellation_notice_minutes": coach.cancellation_notice_minutes,
        "reminder_offsets_minutes": list(coach.reminder_offsets_minutes),
        "buffer_minutes": coach.buffer_minutes,
        "min_notice_minutes": coach.min_notice_minutes,
        "horizon_days": coach.horizon_days,
        "auto_confirm": coach.auto_confirm,
        "requires_payment": coach.requires_payment,
        "calendar_delete_policy": coach.calendar_delete_policy,
        "calcom_username": coach.calcom_username,
        "calcom_event_type_id": coach.calcom_event_type_id,
        "created_at": iso(coach.created_at),
        "updated_at": iso(coach.updated_at),
    }


def sessions_json(db: Db, sessions: Iterable[Session]) -> list[dict[str, Any]]:
    """Sessions with their coach and links, loaded in two queries for the whole page."""
    rows = list(sessions)
    if not rows:
        return []
    coach_ids = {s.coach_id for s in rows}
    coaches = {c.id: c for c in db.exec(select(Coach).where(col(Coach.id).in_(coach_ids)))}
    links: dict[uuid.UUID, list[ProviderLink]] = defaultdict(list)
    for link in db.exec(
        select(ProviderLink)
        .where(col(ProviderLink.session_id).in_([s.id for s in rows]))
        .order_by(col(ProviderLink.created_at))
    ):
        links[link.session_id].append(link)
    return [_session(s, coaches[s.coach_id], links[s.id]) for s in rows]


def _session(s: Session, coach: Coach, links: list[ProviderLink]) -> dict[str, Any]:
    cancellation = None
    if s.status in ("cancelled", "rejected", "awaiting_reschedule") or s.cancelled_at:
        cancellation = {
            "at": iso(s.cancelled_at),
            "by": s.cancelled_by,
            "reason": s.cancellation_reason,
        }
    return {
        "id": str(s.id),
        "status": s.status,
        "title": s.title,
        "reason": s.reason,
        "notes": s.notes,
        "kind": s.kind,
        "location": s.location,
        "start_at": iso(s.start_at),
        "end_at": iso(s.end_at),
        "timezone": s.timezone,
        "coach": {"id": str(coach.id), "email": coach.email, "name": coach.name},
        "attendee": {
            "email": s.attendee_email,
            "name": s.attendee_name,
            "client_ref": s.attendee_client_ref,
            "timezone": s.attendee_timezone,
        },
        "guests": list(s.guests),
        "meeting_url": s.meeting_url,
        "payment_status": s.payment_status,
        "payment": {"amount": s.payment_amount, "currency": s.payment_currency}
        if s.payment_amount is not None
        else None,
        "series_id": str(s.series_id) if s.series_id else None,
        "version": s.version,
        "source": s.source,
        "needs_review": s.needs_review,
        "cancellation": cancellation,
        "attendance": {
            "actual_start": iso(s.actual_start),
            "actual_end": iso(s.actual_end),
            "attended": s.attended,
        },
        "links": [
            {
                "provider": link.provider,
                "external_id": link.external_id,
                "active": link.active,
                "state": link.state,
                "last_error": link.last_error,
                "synced_version": link.synced_version,
            }
            for link in links
        ],
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
    }


def event_json(e: SessionEvent) -> dict[str, Any]:
    """One timeline entry."""
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "source": e.source,
        "actor": e.actor,
        "version": e.version,
        "applied": e.applied,
        "data": e.data,
    }


def delivery_json(d: WebhookDelivery) -> dict[str, Any]:
    """One inbox row (without its body)."""
    return {
        "id": d.id,
        "provider": d.provider,
        "event_type": d.event_type,
        "dedupe_key": d.dedupe_key,
        "state": d.state,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "received_at": iso(d.received_at),
        "processed_at": iso(d.processed_at),
        "session_id": str(d.session_id) if d.session_id else None,
    }
