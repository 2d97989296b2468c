"""Outbound delivery against a real receiver that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select
from standardwebhooks import Webhook
from standardwebhooks.exceptions import WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.db import utcnow
from app.models import OutboundMessage
from app.outbox import dispatch_outbound, emit
from jobs.outbound import HORIZON, RETRY_EVERY, backoff, deliver, retry_due
from tests.conftest import drain, hub_of
from tests.e2e.test_serve import free_port


@dataclass
class Receiver:
    """The platform: checks each signature and answers with `status`."""

    url: str
    status: int = 200
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        req = Request(environ)
        raw = req.get_data()
        try:
            Webhook(self.secret).verify(raw, dict(req.headers))
            verified = True
        except WebhookVerificationError:
            verified = False
        self.received.append(
            {
                "id": req.headers.get("webhook-id"),
                "verified": verified,
                "content_type": req.headers.get("Content-Type"),
                "body": json.loads(raw),
            }
        )
        resp: Iterable[bytes] = Response("ok", status=self.status)(environ, start_response)
        return resp


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    found = Receiver(f"http://127.0.0.1:{port}/hooks")
    server = make_server("127.0.0.1", port, found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def register(client: FlaskClient, auth: dict[str, str], receiver: Receiver, url: str = "") -> str:
    resp = client.post(
        "/api/webhook-endpoints", json={"url": url or receiver.url, "events": ["*"]}, headers=auth
    )
    assert resp.status_code == 201
    receiver.secret = resp.json["secret"]
    endpoint_id: str = resp.json["id"]
    return endpoint_id


def send(app: Flask, dispatch: bool = True) -> int:
    with hub_of(app).db.session() as db:
        [message_id] = emit(db, "session.created", {"session_id": "s-1", "title": "Intro"})
    if dispatch:
        dispatch_outbound(hub_of(app), [message_id])
    return message_id


def message(app: Flask, message_id: int) -> OutboundMessage:
    with hub_of(app).db.session() as db:
        row = db.get(OutboundMessage, message_id)
    assert row is not None
    return row


def run(app: Flask, message_id: int) -> str:
    with app.app_context():
        return deliver(message_id)


def test_delivered_on_2xx_signed_and_never_twice(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    register(client, auth, receiver)
    message_id = send(app)
    drain(app)
    row = message(app, message_id)
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "delivered",
        1,
        200,
        None,
    )
    assert row.delivered_at is not None
    [got] = receiver.received
    assert got["verified"] is True
    assert got["id"] == row.msg_id
    assert got["content_type"] == "application/json"
    assert got["body"]["type"] == "session.created"
    assert got["body"]["data"] == {"session_id": "s-1", "title": "Intro"}

    assert run(app, message_id) == "delivered"
    dispatch_outbound(hub_of(app), [message_id])
    drain(app)
    assert len(receiver.received) == 1
    assert message(app, message_id).attempts == 1


def test_500_keeps_it_pending_with_a_later_attempt(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    register(client, auth, receiver)
    receiver.status = 500
    message_id = send(app)
    drain(app)
    row = message(app, message_id)
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)
    assert receiver.received[0]["verified"] is True
    # the retry waits in the queue; an early run does not send
    assert hub_of(app).queue.depth() == 1
    assert run(app, message_id) == "not_due"
    assert len(receiver.received) == 1


def test_receiver_down_is_a_retry(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    register(client, auth, receiver, url=f"http://127.0.0.1:{free_port()}/hooks")
    message_id = send(app)
    drain(app)
    row = message(app, message_id)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert row.last_error is not None
    assert row.last_error.startswith("ConnectionError")
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > utcnow()


def test_fails_after_the_horizon_then_resend_delivers(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    endpoint_id = register(client, auth, receiver)
    receiver.status = 500
    message_id = send(app, dispatch=False)
    with hub_of(app).db.session() as db:
        row = db.get(OutboundMessage, message_id)
        assert row is not None
        row.created_at = utcnow() - HORIZON + timedelta(seconds=10)
        row.attempts = 7
        db.add(row)
    assert run(app, message_id) == "failed"
    row = message(app, message_id)
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "failed",
        8,
        500,
        "HTTP 500",
    )
    assert row.next_attempt_at is None
    failed = client.get(
        f"/api/webhook-endpoints/{endpoint_id}/deliveries?state=failed", headers=auth
    )
    assert [i["id"] for i in failed.json["items"]] == [message_id]

    receiver.status = 204
    resp = client.post(
        f"/api/webhook-endpoints/{endpoint_id}/deliveries/{message_id}/resend", headers=auth
    )
    assert resp.status_code == 202
    assert resp.json["attempts"] == 8
    drain(app)
    row = message(app, message_id)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 9, 204)
    assert [r["verified"] for r in receiver.received] == [True, True]
    assert receiver.received[0]["id"] == receiver.received[1]["id"] == row.msg_id


def test_sweep_enqueues_due_messages_whose_job_was_lost(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    register(client, auth, receiver)
    message_id = send(app, dispatch=False)
    assert hub_of(app).queue.depth() == 0
    with app.app_context():
        assert retry_due() == 1
    drain(app)
    assert message(app, message_id).state == "delivered"
    with app.app_context():
        assert retry_due() == 0


def test_disabled_endpoint_fails_its_messages_without_sending(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    endpoint_id = register(client, auth, receiver)
    message_id = send(app, dispatch=False)
    client.delete(f"/api/webhook-endpoints/{endpoint_id}", headers=auth)
    assert run(app, message_id) == "failed"
    assert message(app, message_id).last_error == "the endpoint is disabled"
    assert receiver.received == []
    with hub_of(app).db.session() as db:
        assert (
            list(db.exec(select(OutboundMessage.id).where(col(OutboundMessage.attempts) > 0))) == []
        )


def test_backoff_grows_with_jitter_and_levels_off() -> None:
    assert 24 <= backoff(1) <= 36
    assert 96 <= backoff(2) <= 144
    assert 0.8 * 3600 <= backoff(5) <= 1.2 * 3600
    for attempts in (6, 12, 40):
        assert 0.8 * RETRY_EVERY <= backoff(attempts) <= 1.2 * RETRY_EVERY
