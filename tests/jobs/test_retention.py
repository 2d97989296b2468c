"""Retention: old raw bodies and sent payloads become tombstones; rows and dedupe stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select, update

from app.config import ConfigError, load
from app.db import utcnow
from app.kv import read_value
from app.models import OutboundMessage, WebhookDelivery, WebhookEndpoint
from app.outbox import emit, new_secret
from app.people import INBOX_CURSOR, OUTBOX_CURSOR
from jobs.retention import purge_expired_bodies
from jobs.sweeps import schedule
from tests.conftest import drain, hub_of
from tests.testhook import TestHook, event, registered, sign


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def post(client: FlaskClient, body: bytes) -> str:
    resp = client.post("/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new"))
    assert resp.status_code == 200
    status: str = resp.json["status"]
    return status


def rows(app: Flask) -> dict[str, WebhookDelivery]:
    with hub_of(app).db.session() as db:
        return {r.dedupe_key: r for r in db.exec(select(WebhookDelivery))}


def messages(app: Flask) -> list[OutboundMessage]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))


def purge(app: Flask, **kwargs: int) -> int:
    with app.app_context():
        return purge_expired_bodies(**kwargs)


def test_old_bodies_are_purged_in_batches_young_and_in_flight_ones_kept(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    bodies = {
        "old-1": event(id="old-1", uid="b1"),
        "old-2": json.dumps({"id": "old-2", "type": "ignored.kind", "who": "a@b.c"}).encode(),
        "old-busy": event(id="old-busy", uid="b2"),
        "young": event(id="young", uid="b3"),
    }
    for body in bodies.values():
        assert post(client, body) == "accepted"
    drain(app)
    h = hub_of(app)
    old = utcnow() - timedelta(days=31)
    with h.db.session() as db:
        endpoint = WebhookEndpoint(
            url="https://platform.example/h",
            events=["*"],
            secret_encrypted=h.crypto.encrypt(new_secret()),
        )
        db.add(endpoint)
        db.flush()
        endpoint_id = str(endpoint.id)
        for n in range(3):
            emit(db, "session.created", {"session_id": f"s{n}", "attendee_email": "a@b.c"})
    ids = [m.id for m in messages(app)]
    with h.db.engine.begin() as conn:
        conn.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.dedupe_key).in_(["old-1", "old-2", "old-busy"]))
            .values(received_at=old)
        )
        conn.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.dedupe_key) == "old-busy")
            .values(state="waiting")
        )
        conn.execute(
            update(OutboundMessage)
            .where(col(OutboundMessage.id).in_(ids[:2]))
            .values(created_at=old)
        )
        conn.execute(
            update(OutboundMessage)
            .where(col(OutboundMessage.id).in_([ids[0], ids[2]]))
            .values(state="delivered")
        )

    assert purge(app, batch=1) == 3  # two deliveries, one delivered message
    found = rows(app)
    for key in ("old-1", "old-2"):
        assert found[key].body.startswith(b'{"purged":true')
        assert "x-test-signature" not in found[key].headers
        assert found[key].headers["content-type"] == "application/json"
        assert found[key].state in ("processed", "ignored")
        assert found[key].received_at < utcnow() - timedelta(days=30)
    assert found["old-busy"].body == bodies["old-busy"]  # still waiting for its session
    assert found["young"].body == bodies["young"]
    assert "x-test-signature" in found["young"].headers
    sent = messages(app)
    assert sent[0].payload == {"purged": True, "at": sent[0].payload["at"]}
    assert sent[1].payload["data"]["attendee_email"] == "a@b.c"  # pending: still to send
    assert sent[2].payload["data"]["attendee_email"] == "a@b.c"  # young
    with h.db.session() as db:
        # the cursors stop before what is still in flight
        assert read_value(db, INBOX_CURSOR) == str(found["old-2"].id)
        assert read_value(db, OUTBOX_CURSOR) == str(ids[0])

    # a late duplicate of a purged delivery is still recognised
    assert post(client, bodies["old-1"]) == "duplicate"
    assert len(rows(app)) == 4

    # once it settles, the held-back rows go too, and the cursor moves past them
    with h.db.engine.begin() as conn:
        conn.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.dedupe_key) == "old-busy")
            .values(state="failed")
        )
        conn.execute(
            update(OutboundMessage).where(col(OutboundMessage.id) == ids[1]).values(state="failed")
        )
    assert purge(app) == 2
    assert rows(app)["old-busy"].body.startswith(b'{"purged":true')
    assert rows(app)["young"].body == bodies["young"]
    with h.db.session() as db:
        assert read_value(db, INBOX_CURSOR) == str(found["old-busy"].id)
        assert read_value(db, OUTBOX_CURSOR) == str(ids[1])
    assert purge(app) == 0  # idempotent

    # the personal-data export scans above the cursors only, and purged bodies hold nothing
    export = client.get("/api/people?email=a@b.c", headers=auth).json
    assert export["deliveries"] == []
    assert [m["id"] for m in export["outbound_messages"]] == [ids[2]]

    # a purged message cannot be sent again (410, naming why); a kept one can
    base = f"/api/webhook-endpoints/{endpoint_id}/deliveries"
    gone = client.post(f"{base}/{ids[0]}/resend", headers=auth)
    assert gone.status_code == 410, gone.json
    assert gone.json["field"] == "message_id"
    assert "retention" in gone.json["message"]
    assert messages(app)[0].state == "delivered"  # untouched
    assert client.post(f"{base}/{ids[2]}/resend", headers=auth).status_code == 202


def test_retention_zero_keeps_everything_and_is_not_scheduled(
    app: Flask, client: FlaskClient
) -> None:
    assert post(client, event()) == "accepted"
    h = hub_of(app)
    with h.db.engine.begin() as conn:
        conn.execute(update(WebhookDelivery).values(received_at=utcnow() - timedelta(days=400)))
    assert "jobs.retention.purge_expired_bodies" in schedule(h.settings)
    h.settings = h.settings.with_overrides(delivery_retention_days=0)
    assert "jobs.retention.purge_expired_bodies" not in schedule(h.settings)
    assert purge(app) == 0
    assert rows(app)["evt-1"].body == event()


def test_retention_setting(tmp_path: Path) -> None:
    env = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    assert load(env).delivery_retention_days == 30
    assert load({**env, "SESSIONHUB_DELIVERY_RETENTION_DAYS": "7"}).delivery_retention_days == 7
    with pytest.raises(ConfigError, match="SESSIONHUB_DELIVERY_RETENTION_DAYS"):
        load({**env, "SESSIONHUB_DELIVERY_RETENTION_DAYS": "-1"})
    with pytest.raises(ConfigError, match="SESSIONHUB_DELIVERY_RETENTION_DAYS"):
        load({**env, "SESSIONHUB_DELIVERY_RETENTION_DAYS": "month"})
