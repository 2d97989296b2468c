"""Stripe events confirm, fail and refund sessions, whatever order they arrive in."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.models import Coach, Session, SessionEvent, WebhookDelivery
from jobs.catch_up import stripe_recovery
from tests.conftest import AppFactory, drain, hub_of
from tests.jobs.calcom_support import SECRET as CALCOM_SECRET
from tests.jobs.calcom_support import booking, send

STRIPE_SECRET = "whsec_flow_secret"
API = "http://stripe.test"
T0 = int(time.time()) - 60


@pytest.fixture
def app(make_app: AppFactory, db_url: str) -> Flask:
    return make_app(
        db_url,
        webhook_secrets={"calcom": (CALCOM_SECRET,), "stripe": ("whsec_old", STRIPE_SECRET)},
        api_keys={"stripe": "sk_test_key"},
        api_urls={"stripe": API},
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def event(kind: str, obj: dict[str, Any], created: int, eid: str | None = None) -> dict[str, Any]:
    return {
        "id": eid or f"evt_{kind}_{created}",
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": obj},
    }


def sign(raw: bytes, secret: str = STRIPE_SECRET, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(client: FlaskClient, body: dict[str, Any], **kw: Any) -> Any:
    raw = json.dumps(body).encode()
    return client.post(
        "/webhooks/stripe",
        data=raw,
        headers={"Content-Type": "application/json", "Stripe-Signature": sign(raw, **kw)},
    )


def checkout(uid_or_session: str, pi: str = "pi_1", status: str = "paid") -> dict[str, Any]:
    return {
        "id": "cs_1",
        "object": "checkout.session",
        "payment_intent": pi,
        "payment_status": status,
        "client_reference_id": uid_or_session,
        "amount_total": 12000,
        "currency": "EUR",
        "metadata": {},
    }


def refund(pi: str = "pi_1", refunded: int = 12000) -> dict[str, Any]:
    return {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": pi,
        "amount": 12000,
        "amount_refunded": refunded,
        "refunded": refunded >= 12000,
        "currency": "eur",
    }


def intent(pi: str = "pi_1", **metadata: str) -> dict[str, Any]:
    return {
        "id": pi,
        "object": "payment_intent",
        "amount": 12000,
        "amount_received": 12000,
        "currency": "eur",
        "metadata": metadata,
    }


def only(app: Flask) -> Session:
    with hub_of(app).db.session() as db:
        return db.exec(select(Session)).one()


def states(app: Flask) -> list[str]:
    with hub_of(app).db.session() as db:
        return [
            d.state
            for d in db.exec(
                select(WebhookDelivery)
                .where(WebhookDelivery.provider == "stripe")
                .order_by(WebhookDelivery.id)
            )
        ]  # type: ignore[arg-type]


def book(app: Flask, client: FlaskClient, uid: str = "bk-1") -> None:
    assert send(client, booking("BOOKING_CREATED", uid, "2030-01-01T00:00:00Z")).status_code == 200
    drain(app)


def test_checkout_paid_marks_the_session_paid(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    assert (
        post(client, event("checkout.session.completed", checkout("bk-1"), T0)).status_code == 200
    )
    drain(app)
    s = only(app)
    assert (s.payment_status, s.payment_amount, s.payment_currency) == ("paid", 12000, "eur")


def test_signature_failures(app: Flask, client: FlaskClient) -> None:
    body = event("payment_intent.succeeded", intent(), T0)
    assert post(client, body, at=int(time.time()) - 301).status_code == 401
    assert post(client, body, at=int(time.time()) + 301).status_code == 401
    assert post(client, body, secret="whsec_wrong").status_code == 401
    assert post(client, body, secret="whsec_old").status_code == 200  # rotation
    raw = json.dumps(body).encode()
    tampered = client.post(
        "/webhooks/stripe", data=raw + b" ", headers={"Stripe-Signature": sign(raw)}
    )
    assert tampered.status_code == 401


def test_payment_before_booking_waits_then_applies(app: Flask, client: FlaskClient) -> None:
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    drain(app)
    assert states(app) == ["waiting"]
    book(app, client)
    assert states(app) == ["processed"]
    assert only(app).payment_status == "paid"


def test_refund_before_payment_ends_refunded(app: Flask, client: FlaskClient) -> None:
    post(client, event("charge.refunded", refund(), T0 + 100))
    drain(app)
    assert states(app) == ["waiting"]
    book(app, client)
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    post(client, event("payment_intent.succeeded", intent(), T0 + 1))
    drain(app)
    s = only(app)
    assert s.payment_status == "refunded"
    assert states(app) == ["processed"] * 3


def test_intent_before_checkout_and_duplicates_end_paid(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    post(
        client,
        event("payment_intent.succeeded", intent(sessionhub_session_id=str(only(app).id)), T0 + 1),
    )
    answers = [
        post(client, event("checkout.session.completed", checkout("bk-1"), T0, eid="evt_dup")).json[
            "status"
        ]
        for _ in range(5)
    ]
    drain(app)
    assert answers == ["accepted"] + ["duplicate"] * 4
    assert only(app).payment_status == "paid"
    assert len(states(app)) == 2


def test_partial_refund_of_a_live_session_is_flagged(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    post(client, event("charge.refunded", refund(refunded=2000), T0 + 10))
    drain(app)
    s = only(app)
    assert (s.payment_status, s.needs_review) == ("partially_refunded", True)


def test_refund_of_a_cancelled_session_is_recorded_not_flagged(
    app: Flask, client: FlaskClient
) -> None:
    book(app, client)
    send(client, booking("BOOKING_CANCELLED", "bk-1", "2030-01-02T00:00:00Z", status="CANCELLED"))
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    post(client, event("charge.refunded", refund(), T0 + 10))
    drain(app)
    s = only(app)
    assert (s.status, s.payment_status, s.needs_review) == ("cancelled", "refunded", False)


def test_failed_then_async_success(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    post(client, event("checkout.session.completed", checkout("bk-1", status="unpaid"), T0))
    post(client, event("payment_intent.payment_failed", intent(), T0 + 1))
    drain(app)
    assert only(app).payment_status == "failed"
    post(client, event("checkout.session.async_payment_succeeded", checkout("bk-1"), T0 + 2))
    drain(app)
    assert only(app).payment_status == "paid"


def test_dispute_is_flagged_for_ops(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": "pi_1",
        "charge": "ch_1",
        "amount": 12000,
        "currency": "eur",
        "reason": "fraudulent",
        "status": "needs_response",
    }
    post(client, event("charge.dispute.created", dispute, T0 + 5))
    drain(app)
    s = only(app)
    assert s.needs_review is True
    with hub_of(app).db.session() as db:
        kinds = [e.kind for e in db.exec(select(SessionEvent))]
    assert "dispute_opened" in kinds


def test_requires_payment_holds_then_confirms(app: Flask, client: FlaskClient) -> None:
    with hub_of(app).db.session() as db:
        db.add(Coach(email="organizer@example.com", name="Org", requires_payment=True))
    book(app, client)
    assert only(app).status == "requested"
    post(client, event("checkout.session.completed", checkout("bk-1"), T0))
    drain(app)
    assert (only(app).status, only(app).payment_status) == ("confirmed", "paid")


@responses.activate
def test_recovery_sweep_ingests_only_what_was_missed(app: Flask, client: FlaskClient) -> None:
    book(app, client)
    delivered = event("checkout.session.completed", checkout("bk-1"), T0, eid="evt_seen")
    post(client, delivered)
    drain(app)
    missed = event("charge.refunded", refund(refunded=2000), T0 + 50, eid="evt_missed")
    responses.get(
        f"{API}/v1/events", json={"object": "list", "has_more": False, "data": [missed, delivered]}
    )
    with app.app_context():
        assert stripe_recovery() == 1
        assert stripe_recovery() == 0
    drain(app)
    assert only(app).payment_status == "partially_refunded"
    query = responses.calls[0].request.url or ""
    assert "delivery_success=false" in query
    assert states(app) == ["processed", "processed"]
