"""Outbound webhooks: the endpoints API and the outbox written in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from app.models import OutboundMessage, WebhookEndpoint
from app.outbox import EVENT_TYPES, dispatch_outbound, emit
from tests.conftest import hub_of

URL = "https://platform.example/hooks"


def create(client: FlaskClient, auth: dict[str, str], events: list[str], url: str = URL) -> str:
    resp = client.post("/api/webhook-endpoints", json={"url": url, "events": events}, headers=auth)
    assert resp.status_code == 201, resp.json
    endpoint_id: str = resp.json["id"]
    return endpoint_id


def messages(app: Flask) -> list[OutboundMessage]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))


def test_create_shows_the_secret_once_and_stores_it_encrypted(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    resp = client.post(
        "/api/webhook-endpoints",
        json={"url": URL, "events": ["session.created", "session.cancelled"]},
        headers=auth,
    )
    assert resp.status_code == 201
    body = resp.json
    assert body["url"] == URL
    assert body["events"] == ["session.created", "session.cancelled"]
    assert body["active"] is True
    assert body["secret"].startswith("whsec_")
    with hub_of(app).db.session() as db:
        row = db.get(WebhookEndpoint, uuid.UUID(body["id"]))
    assert row is not None
    assert body["secret"] not in row.secret_encrypted
    assert hub_of(app).crypto.decrypt(row.secret_encrypted) == body["secret"]

    listed = client.get("/api/webhook-endpoints", headers=auth).json
    assert listed["next"] is None
    [item] = listed["items"]
    assert item["id"] == body["id"]
    assert "secret" not in item
    assert "secret_encrypted" not in item


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": "ftp://platform.example/x", "events": ["*"]}, "url"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"url": 42, "events": ["*"]}, "url"),
        ({"url": URL}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": "session.created"}, "events"),
        ({"url": URL, "events": ["session.exploded"]}, "events"),
        ({"url": URL, "events": ["*", "session.created"]}, "events"),
    ],
)
def test_create_validation_names_the_field(
    client: FlaskClient, auth: dict[str, str], payload: dict[str, object], field: str
) -> None:
    resp = client.post("/api/webhook-endpoints", json=payload, headers=auth)
    assert resp.status_code == 400
    assert resp.json["field"] == field


def test_endpoints_need_the_api_key(client: FlaskClient) -> None:
    resp = client.post("/api/webhook-endpoints", json={"url": URL, "events": ["*"]})
    assert resp.status_code == 401
    assert client.get("/api/webhook-endpoints").status_code == 401


def test_delete_deactivates_and_unknown_ids_are_404(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    eid = create(client, auth, ["*"])
    resp = client.delete(f"/api/webhook-endpoints/{eid}", headers=auth)
    assert resp.status_code == 200
    assert resp.json["active"] is False
    assert resp.json["disabled_reason"]
    [item] = client.get("/api/webhook-endpoints", headers=auth).json["items"]
    assert item["active"] is False
    missing = client.delete(f"/api/webhook-endpoints/{uuid.uuid4()}", headers=auth)
    assert (missing.status_code, missing.json["field"]) == (404, "endpoint_id")
    bad = client.get("/api/webhook-endpoints/nope/deliveries", headers=auth)
    assert (bad.status_code, bad.json["field"]) == (400, "endpoint_id")


def test_emit_writes_one_message_per_subscribed_active_endpoint(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    everything = create(client, auth, ["*"])
    created_only = create(client, auth, ["session.created"])
    create(client, auth, ["payment.updated"])
    gone = create(client, auth, ["*"])
    client.delete(f"/api/webhook-endpoints/{gone}", headers=auth)
    session_id = uuid.uuid4()
    start = datetime(2030, 1, 10, 10, tzinfo=UTC)

    with hub_of(app).db.session() as db:
        ids = emit(db, "session.created", {"session_id": session_id, "start_at": start})
    assert len(ids) == 2
    rows = messages(app)
    assert [r.id for r in rows] == ids
    assert {str(r.endpoint_id) for r in rows} == {everything, created_only}
    for row in rows:
        assert row.state == "pending"
        assert row.attempts == 0
        assert row.msg_id.startswith("msg_")
        assert row.event_type == "session.created"
        assert set(row.payload) == {"type", "timestamp", "data"}
        assert row.payload["type"] == "session.created"
        assert row.payload["timestamp"].endswith("Z")
        assert row.payload["data"] == {
            "session_id": str(session_id),
            "start_at": "2030-01-10T10:00:00Z",
        }
    assert len({r.msg_id for r in rows}) == 2

    assert dispatch_outbound(hub_of(app), ids) == 2
    assert hub_of(app).queue.depth() == 2


def test_emit_rolls_back_with_the_callers_transaction(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    create(client, auth, ["*"])
    written: list[int] = []

    def change_that_fails() -> None:
        with hub_of(app).db.session() as db:
            written.extend(emit(db, "session.cancelled", {"session_id": str(uuid.uuid4())}))
            raise RuntimeError("the domain change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert len(written) == 1
    assert messages(app) == []


def test_emit_without_endpoints_and_unknown_types(app: Flask) -> None:
    with hub_of(app).db.session() as db:
        assert emit(db, "payment.updated", {"amount": 100}) == []
        with pytest.raises(ValueError, match="unknown event type"):
            emit(db, "session.exploded", {})
    assert "session.reminder" in EVENT_TYPES


def test_delivery_log_filters_and_resend_checks(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    eid = create(client, auth, ["*"])
    other = create(client, auth, ["payment.updated"])
    with hub_of(app).db.session() as db:
        first, *_ = emit(db, "session.created", {"n": 1})
        emit(db, "payment.updated", {"n": 2})
    log = client.get(f"/api/webhook-endpoints/{eid}/deliveries", headers=auth).json
    assert [i["event_type"] for i in log["items"]] == ["payment.updated", "session.created"]
    assert log["next"] is None
    item = log["items"][1]
    assert {"msg_id", "state", "attempts", "last_status", "last_error", "delivered_at"} <= set(item)
    assert "payload" not in item
    paged = client.get(f"/api/webhook-endpoints/{eid}/deliveries?limit=1", headers=auth).json
    assert len(paged["items"]) == 1
    assert paged["next"]
    pending = client.get(f"/api/webhook-endpoints/{eid}/deliveries?state=pending", headers=auth)
    assert len(pending.json["items"]) == 2
    delivered = client.get(f"/api/webhook-endpoints/{eid}/deliveries?state=delivered", headers=auth)
    assert delivered.json["items"] == []
    bad = client.get(f"/api/webhook-endpoints/{eid}/deliveries?state=lost", headers=auth)
    assert (bad.status_code, bad.json["field"]) == (400, "state")

    foreign = client.post(f"/api/webhook-endpoints/{other}/deliveries/{first}/resend", headers=auth)
    assert (foreign.status_code, foreign.json["field"]) == (404, "message_id")
    resent = client.post(
        f"/api/webhook-endpoints/{eid}/deliveries/{item['msg_id']}/resend", headers=auth
    )
    assert resent.status_code == 202
    assert resent.json["state"] == "pending"
    client.delete(f"/api/webhook-endpoints/{eid}", headers=auth)
    refused = client.post(f"/api/webhook-endpoints/{eid}/deliveries/{first}/resend", headers=auth)
    assert refused.status_code == 409
