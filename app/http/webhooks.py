"""`POST /webhooks/<slug>`: verify, store, enqueue, answer — never a provider call here."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

import connectors
from app.errors import NotFound, Unauthorized
from app.handoff import batched
from app.http.limits import webhook_limited
from app.http.pushes import receive_push
from app.hub import hub
from app.inbox import store_delivery
from app.metrics import DELIVERIES, VERIFY_FAILURES
from app.tally import tally
from connectors.base import lower_headers
from connectors.calendar import CalendarConnector
from connectors.errors import InvalidSignature

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


@bp.post("/webhooks/<slug>")
def receive(slug: str) -> Response | tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Accept one provider delivery."""
    limited = webhook_limited()
    if limited is not None:
        return limited
    connector = connectors.get(slug)
    if connector is None:
        raise NotFound(f"there is no webhook endpoint for {slug!r}", field="slug")
    h = hub()
    raw = request.get_data(cache=True)  # raw bytes first: signatures cover them exactly
    headers = lower_headers(request.headers)
    reply = connector.handshake(request.args, headers, raw)
    if reply is not None:
        return Response(reply.body, status=reply.status, content_type=reply.content_type)

    if isinstance(connector, CalendarConnector):
        return receive_push(h, slug, connector, headers, raw, connector.accepted_status)

    secrets = h.settings.webhook_secrets.get(slug, ())
    if connector.needs_secret and not secrets:
        raise NotFound(f"webhooks from {slug} are not enabled on this hub", field="slug")
    try:
        connector.verify(headers, raw, secrets)
    except InvalidSignature as err:
        log.warning("webhook rejected", extra={"provider": slug, "reason": err.reason})
        VERIFY_FAILURES.labels(slug, err.reason[:60]).inc()
        DELIVERIES.labels(slug, "unknown", "rejected").inc()
        tally(h.db.engine, slug, "rejected")
        raise Unauthorized(err.reason, code="invalid_signature") from err

    event_type, dedupe_key = connector.identify(headers, raw)
    kept = {k: v for k, v in headers.items() if k in connector.stored_headers}
    delivery_id, new = store_delivery(h.db.engine, slug, dedupe_key, event_type, kept, raw)
    if new:
        if not batched(h):  # otherwise a worker hands it off with others (app/handoff.py)
            h.enqueue(f"ingest:{delivery_id}", "jobs.ingest.ingest_delivery", delivery_id)
    else:
        tally(h.db.engine, slug, "duplicate")
        log.info(
            "duplicate delivery dropped",
            extra={"provider": slug, "delivery_id": delivery_id, "event_type": event_type},
        )
    DELIVERIES.labels(slug, event_type[:60], "accepted" if new else "duplicate").inc()
    body = {"status": "accepted" if new else "duplicate", "delivery_id": delivery_id}
    return jsonify(body), connector.accepted_status
