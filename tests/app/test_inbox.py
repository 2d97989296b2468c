"""The webhook inbox, proven with the test-only connector on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.models import ProviderLink, Session, WebhookDelivery
from jobs.sweeps import requeue_stuck_deliveries
from tests.conftest import AppFactory, drain, hub_of
from tests.testhook import TestHook, event, registered, sign

SECRET = "hook-secret-new"


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def post(client: FlaskClient, body: bytes, secret: str = SECRET, **headers: str) -> object:
    return client.post("/webhooks/testhook", data=body, headers={**sign(body, secret), **headers})


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(WebhookDelivery)))


def test_happy_path_stores_enqueues_and_applies(app: Flask, client: FlaskClient) -> None:
    resp = post(client, event())
    assert resp.status_code == 200
    assert resp.json["status"] == "accepted"
    [row] = deliveries(app)
    assert row.state == "received"
    assert row.body == event()
    assert row.headers["x-test-signature"]
    assert hub_of(app).queue.depth() == 1

    drain(app)
    [row] = deliveries(app)
    assert row.state == "processed"
    with hub_of(app).db.session() as db:
        session = db.exec(select(Session)).one()
        link = db.exec(select(ProviderLink)).one()
    assert row.session_id == session.id
    assert (link.provider, link.external_id, link.state) == ("testhook", "booking-1", "synced")
    assert session.status == "confirmed"
    assert session.start_at.isoformat() == "2030-01-10T10:00:00+00:00"


def test_duplicate_delivery_three_times_one_row_one_job(app: Flask, client: FlaskClient) -> None:
    answers = [post(client, event()) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json["status"] for a in answers] == ["accepted", "duplicate", "duplicate"]
    assert len({a.json["delivery_id"] for a in answers}) == 1
    assert len(deliveries(app)) == 1
    assert hub_of(app).queue.depth() == 1


def test_bad_signature_is_401_and_nothing_stored(app: Flask, client: FlaskClient) -> None:
    resp = post(client, event(), secret="wrong")
    assert resp.status_code == 401
    assert resp.json == {"error": "invalid_signature", "message": "signature does not match"}
    missing = client.post("/webhooks/testhook", data=event())
    assert missing.status_code == 401
    assert "missing" in missing.json["message"]
    assert deliveries(app) == []


def test_rotated_secret_still_accepted(app: Flask, client: FlaskClient) -> None:
    assert post(client, event(), secret="hook-secret-old").status_code == 200


def test_body_over_one_mebibyte_is_413(app: Flask, client: FlaskClient) -> None:
    big = b"x" * (1024 * 1024 + 1)
    resp = post(client, big)
    assert resp.status_code == 413
    assert resp.json["error"] == "request_entity_too_large"
    assert deliveries(app) == []
    exactly = b'{"pad":"' + b"x" * (1024 * 1024 - 10) + b'"}'
    assert len(exactly) == 1024 * 1024
    assert post(client, exactly).status_code == 200


def test_unknown_or_disabled_provider_is_404(make_app: AppFactory, db_url: str) -> None:
    app = make_app(db_url, webhook_secrets={})
    client = app.test_client()
    assert client.post("/webhooks/nope", data=b"{}").status_code == 404
    resp = post(client, event())
    assert resp.status_code == 404
    assert "not enabled" in resp.json["message"]


def test_trailing_slash_is_served_not_redirected(app: Flask, client: FlaskClient) -> None:
    body = event()
    resp = client.post("/webhooks/testhook/", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 200


def test_database_down_is_503(make_app: AppFactory, tmp_path: Path, db_url: str) -> None:
    make_app(db_url)  # empties the tables as usual
    dead = (
        "postgresql+psycopg://postgres@127.0.0.1:1/test"
        if "postgresql" in db_url
        else (f"sqlite:///{tmp_path}/missing-dir/hub.db")
    )
    app = make_app(dead)
    resp = post(app.test_client(), event())
    assert resp.status_code == 503
    assert resp.json["error"] == "unavailable"
    assert resp.headers["Retry-After"]


@pytest.mark.redis
def test_redis_down_still_2xx_then_the_sweep_enqueues(
    make_app: AppFactory, db_url: str, redis_url: str
) -> None:
    live = make_app(db_url, redis_url, stuck_after_seconds=0)
    down = make_app(db_url, "redis://127.0.0.1:1/0")
    resp = post(down.test_client(), event())
    assert resp.status_code == 200
    [row] = deliveries(live)
    assert row.state == "received"

    with live.app_context():
        assert requeue_stuck_deliveries() == 1
        assert requeue_stuck_deliveries() == 0  # already queued: coalesced
    drain(live)
    [row] = deliveries(live)
    assert row.state == "processed"


def test_invalid_payload_is_stored_and_marked_failed(app: Flask, client: FlaskClient) -> None:
    body = b'{"id": "evt-bad", "type": "booking.upsert"}'
    assert post(client, body).status_code == 200
    drain(app)
    [row] = deliveries(app)
    assert row.state == "failed"
    assert "invalid payload" in (row.last_error or "")


def test_unused_event_type_is_ignored(app: Flask, client: FlaskClient) -> None:
    post(client, event(type="ignored.kind"))
    drain(app)
    [row] = deliveries(app)
    assert row.state == "ignored"


def test_replay_is_idempotent(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    post(client, event())
    drain(app)
    [row] = deliveries(app)
    for _ in range(2):
        resp = client.post(f"/api/deliveries/{row.id}/replay", headers=auth)
        assert resp.status_code == 202
        drain(app)
    with hub_of(app).db.session() as db:
        session = db.exec(select(Session)).one()
    assert session.version == 1
    [row] = deliveries(app)
    assert row.state == "processed"
    assert row.attempts == 3


def test_out_of_order_delivery_does_not_overwrite(app: Flask, client: FlaskClient) -> None:
    post(client, event(id="e2", at="2030-01-02T00:00:00Z", status="cancelled"))
    post(client, event(id="e1", at="2030-01-01T00:00:00Z", status="confirmed"))
    drain(app)
    with hub_of(app).db.session() as db:
        session = db.exec(select(Session)).one()
    assert session.status == "cancelled"
    assert {d.state for d in deliveries(app)} == {"processed"}
