"""Outbound webhooks: the outbox written in the caller's transaction, delivered by a job."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import Session as Db
from sqlmodel import col, select

from app.db import iso, utcnow
from app.hub import Hub
from app.models import OutboundMessage, WebhookEndpoint

EVENT_TYPES = (
    "session.created",
    "session.updated",
    "session.rescheduled",
    "session.cancelled",
    "session.reminder",
    "session.attendance",
    "payment.updated",
    "connection.needs_reauth",
)
#: an endpoint subscribed to this gets every event type
ALL_EVENTS = "*"
DELIVER = "jobs.outbound.deliver"


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form (`whsec_` + base64 of 32 bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_msg_id() -> str:
    """A message id (the `webhook-id` header, stable across retries)."""
    return "msg_" + uuid.uuid4().hex


def job_key(message_id: int) -> str:
    """The coalescing key of a message's delivery job."""
    return f"outbound:{message_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def payload_for(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The event body: {"type", "timestamp", "data"} (UUIDs and datetimes made JSON-safe)."""
    plain: dict[str, Any] = json.loads(json.dumps(dict(data), default=_plain))
    return {"type": event_type, "timestamp": iso(utcnow()), "data": plain}


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """Whether an endpoint wants this event type."""
    return ALL_EVENTS in endpoint.events or event_type in endpoint.events


def emit(db: Db, event_type: str, data: Mapping[str, Any]) -> list[int]:
    """Queue an event for every active subscribed endpoint in the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    payload = payload_for(event_type, data)
    endpoints = db.exec(
        select(WebhookEndpoint)
        .where(col(WebhookEndpoint.active).is_(True))
        .order_by(col(WebhookEndpoint.created_at))
    )
    now = utcnow()
    rows = [
        OutboundMessage(
            endpoint_id=endpoint.id,
            msg_id=new_msg_id(),
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint in endpoints
        if subscribed(endpoint, event_type)
    ]
    if not rows:
        return []
    db.add_all(rows)
    db.flush()
    return [row.id for row in rows if row.id is not None]


def outbound_jobs(ids: Iterable[int]) -> list[tuple[str, str, tuple[object, ...]]]:
    """The delivery job of each message, for `Hub.enqueue_many`."""
    return [(job_key(i), DELIVER, (i,)) for i in ids]


def dispatch_outbound(hub: Hub, ids: Iterable[int]) -> int:
    """After commit: enqueue delivery of each message (the sweep catches what the queue drops)."""
    return hub.enqueue_many(outbound_jobs(ids))
