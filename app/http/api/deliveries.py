"""The inbox as the platform sees it: list, read, replay."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlmodel import col, select

from app.errors import NotFound, Unavailable, ValidationFailed
from app.http.api import bp, links, schemas
from app.http.api.contract import contract
from app.http.api.params import MAX_ID, as_int, decode_cursor, encode_cursor, limit
from app.http.api.views import delivery_json
from app.hub import hub
from app.models import DELIVERY_STATES, WebhookDelivery


@bp.get("/deliveries")
@contract(
    {200: schemas.DeliveryPage},
    query=schemas.DeliveryQuery,
    tag="deliveries",
    links=links.of("delivery_id", ("get_delivery", "replay"), "$response.body#/items/0/id"),
)
def list_deliveries() -> Response:
    """Deliveries, newest first, by provider and state."""
    query = select(WebhookDelivery)
    if request.args.get("provider"):
        query = query.where(WebhookDelivery.provider == request.args["provider"])
    if request.args.get("state"):
        if request.args["state"] not in DELIVERY_STATES:
            raise ValidationFailed(
                f"state must be one of {', '.join(DELIVERY_STATES)}", field="state"
            )
        query = query.where(WebhookDelivery.state == request.args["state"])
    cursor = decode_cursor(1)
    if cursor:
        query = query.where(col(WebhookDelivery.id) < as_int(cursor[0], "cursor", high=MAX_ID))
    size = limit()
    with hub().db.session() as db:
        rows = list(db.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(size + 1)))
    page = rows[:size]
    nxt = encode_cursor([page[-1].id]) if len(rows) > size else None
    return jsonify({"items": [delivery_json(d) for d in page], "next": nxt})


def _load(delivery_id: str) -> WebhookDelivery:
    with hub().db.session() as db:
        row = db.get(WebhookDelivery, as_int(delivery_id, "delivery_id", high=MAX_ID))
    if row is None:
        raise NotFound("no such delivery", field="delivery_id")
    return row


@bp.get("/deliveries/<delivery_id>")
@contract({200: schemas.Delivery}, errors=(404,), tag="deliveries")
def get_delivery(delivery_id: str) -> Response:
    """One delivery."""
    return jsonify(delivery_json(_load(delivery_id)))


@bp.post("/deliveries/<delivery_id>/replay")
@contract({202: schemas.Replay}, errors=(404,), tag="deliveries")
def replay(delivery_id: str) -> tuple[Response, int]:
    """Run ingestion again (idempotent: an applied change is not applied twice)."""
    row = _load(delivery_id)
    try:
        hub().queue.enqueue(f"replay:{row.id}", "jobs.ingest.ingest_delivery", row.id, True)
    except Exception as err:  # noqa: BLE001 - any queue failure is "retry later"
        raise Unavailable("the job queue is unavailable, retry later") from err
    return jsonify({**delivery_json(row), "replay": "queued"}), 202
