"""Outbound webhook endpoints: register, list, disable, and their delivery log with resend."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify, request
from sqlmodel import col, select

from app.db import iso, utcnow
from app.errors import Conflict, Gone, NotFound, ValidationFailed
from app.http.api import bp, links, schemas
from app.http.api.contract import contract
from app.http.api.params import MAX_ID, as_int, as_uuid, body, decode_cursor, encode_cursor, limit
from app.hub import hub
from app.models import OUTBOUND_STATES, OutboundMessage, WebhookEndpoint
from app.outbox import ALL_EVENTS, DELIVER, EVENT_TYPES, new_secret

MAX_URL = 2000


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the platform sees it (never its secret)."""
    return {
        "id": str(endpoint.id),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "created_at": iso(endpoint.created_at),
        "disabled_reason": endpoint.disabled_reason,
    }


def message_json(message: OutboundMessage) -> dict[str, Any]:
    """One entry of the delivery log (without the payload)."""
    return {
        "id": message.id,
        "msg_id": message.msg_id,
        "event_type": message.event_type,
        "state": message.state,
        "attempts": message.attempts,
        "next_attempt_at": iso(message.next_attempt_at),
        "last_status": message.last_status,
        "last_error": message.last_error,
        "created_at": iso(message.created_at),
        "delivered_at": iso(message.delivered_at),
    }


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_URL:
        raise ValidationFailed(
            f"url must be an http(s) URL of at most {MAX_URL} characters", field="url"
        )
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
    except ValueError as err:  # "http://[": an unbalanced IPv6 bracket
        raise ValidationFailed("url is not a valid URL", field="url") from err
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed("url must be an http(s) URL with a host", field="url")
    return value.strip()


def _events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("events must be a non-empty list of event types", field="events")
    if ALL_EVENTS in value:
        if len(value) > 1:
            raise ValidationFailed('"*" cannot be combined with other event types', field="events")
        return [ALL_EVENTS]
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationFailed(
            f"unknown event types: {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)}, or *)",
            field="events",
        )
    return list(dict.fromkeys(value))


@bp.post("/webhook-endpoints")
@contract(
    {201: schemas.EndpointCreated},
    body=schemas.EndpointCreate,
    tag="webhooks",
    links=links.of("endpoint_id", ("list_messages", "disable_endpoint")),
)
def create_endpoint() -> tuple[Response, int]:
    """Register an endpoint; the signing secret is in this answer only."""
    data = body()
    url, events = _url(data.get("url")), _events(data.get("events"))
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=url, events=events, secret_encrypted=hub().crypto.encrypt(secret)
    )
    with hub().db.session() as db:
        db.add(endpoint)
    return jsonify({**endpoint_json(endpoint), "secret": secret}), 201


@bp.get("/webhook-endpoints")
@contract({200: schemas.EndpointPage}, tag="webhooks")
def list_endpoints() -> Response:
    """Every endpoint, oldest first."""
    with hub().db.session() as db:
        rows = list(db.exec(select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))))
    return jsonify({"items": [endpoint_json(e) for e in rows], "next": None})


def _endpoint(endpoint_id: str) -> WebhookEndpoint:
    eid = as_uuid(endpoint_id, "endpoint_id")
    with hub().db.session() as db:
        row = db.get(WebhookEndpoint, eid)
    if row is None:
        raise NotFound("no such webhook endpoint", field="endpoint_id")
    return row


@bp.delete("/webhook-endpoints/<endpoint_id>")
@contract({200: schemas.Endpoint}, errors=(404,), tag="webhooks")
def disable_endpoint(endpoint_id: str) -> Response:
    """Stop sending to an endpoint (its delivery log stays readable)."""
    eid = _endpoint(endpoint_id).id
    with hub().db.session() as db:
        row = db.get(WebhookEndpoint, eid)
        assert row is not None  # noqa: S101 - just read
        if row.active:
            row.active, row.disabled_reason = False, f"deleted through the API at {iso(utcnow())}"
            db.add(row)
    return jsonify(endpoint_json(row))


@bp.get("/webhook-endpoints/<endpoint_id>/deliveries")
@contract(
    {200: schemas.MessagePage},
    query=schemas.MessageQuery,
    errors=(404,),
    tag="webhooks",
    links={
        "Resend": (
            "resend",
            {
                "endpoint_id": "$request.path.endpoint_id",
                "message_id": "$response.body#/items/0/id",
            },
        )
    },
)
def list_messages(endpoint_id: str) -> Response:
    """The endpoint's delivery log, newest first, by state."""
    eid = _endpoint(endpoint_id).id
    query = select(OutboundMessage).where(OutboundMessage.endpoint_id == eid)
    state = request.args.get("state")
    if state:
        if state not in OUTBOUND_STATES:
            raise ValidationFailed(
                f"state must be one of {', '.join(OUTBOUND_STATES)}", field="state"
            )
        query = query.where(OutboundMessage.state == state)
    cursor = decode_cursor(1)
    if cursor:
        query = query.where(col(OutboundMessage.id) < as_int(cursor[0], "cursor", high=MAX_ID))
    size = limit()
    with hub().db.session() as db:
        rows = list(db.exec(query.order_by(col(OutboundMessage.id).desc()).limit(size + 1)))
    page = rows[:size]
    nxt = encode_cursor([page[-1].id]) if len(rows) > size else None
    return jsonify({"items": [message_json(m) for m in page], "next": nxt})


@bp.post("/webhook-endpoints/<endpoint_id>/deliveries/<message_id>/resend")
@contract({202: schemas.Resend}, errors=(404, 409, 410), tag="webhooks")
def resend(endpoint_id: str, message_id: str) -> tuple[Response, int]:
    """Send a message again now (by id or msg_id); attempts are kept."""
    endpoint = _endpoint(endpoint_id)
    if not endpoint.active:
        raise Conflict("the webhook endpoint is disabled", field="endpoint_id")
    if message_id.startswith("msg_"):
        where = OutboundMessage.msg_id == message_id
    else:
        where = OutboundMessage.id == as_int(message_id, "message_id", high=MAX_ID)
    with hub().db.session() as db:
        row = db.exec(select(OutboundMessage).where(where).with_for_update()).first()
        if row is None or row.endpoint_id != endpoint.id:
            raise NotFound("no such delivery of this endpoint", field="message_id")
        if row.payload.get("purged") is True:
            raise Gone(
                "this message's payload was purged after the retention period "
                "(SESSIONHUB_DELIVERY_RETENTION_DAYS): it cannot be sent again",
                field="message_id",
            )
        row.state, row.next_attempt_at, row.delivered_at = "pending", utcnow(), None
        db.add(row)
    assert row.id is not None  # noqa: S101 - primary keys are set
    # its own key: a retry waiting in the queue must not swallow the resend
    hub().enqueue(f"outbound-resend:{row.id}", DELIVER, row.id)
    return jsonify({**message_json(row), "resend": "queued"}), 202
