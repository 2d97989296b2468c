"""Cal.com deliveries of every kind → canonical sessions, through the endpoint and the queue."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.models import ProviderLink, Session, SessionEvent, WebhookDelivery
from tests.conftest import AppFactory, drain, hub_of
from tests.jobs.calcom_support import booking, calcom_app, fixture, send


@pytest.fixture
def app(make_app: AppFactory, db_url: str) -> Flask:
    return calcom_app(make_app, db_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def sessions(app: Flask) -> list[Session]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(Session)))


def links(app: Flask) -> dict[tuple[str, str | None], bool]:
    with hub_of(app).db.session() as db:
        return {(k.provider, k.external_id): k.active for k in db.exec(select(ProviderLink))}


def states(app: Flask) -> list[str]:
    with hub_of(app).db.session() as db:
        rows = db.exec(select(WebhookDelivery).order_by(WebhookDelivery.id))  # type: ignore[arg-type]
        return [d.state for d in rows]


def deliver(app: Flask, client: FlaskClient, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert send(client, body).status_code == 200
    drain(app)


def test_created_becomes_a_confirmed_video_session(app: Flask, client: FlaskClient) -> None:
    deliver(app, client, fixture("BOOKING_CREATED"))
    [s] = sessions(app)
    assert s.status == "confirmed"
    assert s.start_at.isoformat() == "2024-01-01T10:00:00+00:00"
    assert s.attendee_email == "guest@example.com"
    assert [g["email"] for g in s.guests] == ["additional-guest@example.com"]
    assert s.kind == "video"
    assert s.meeting_url == "https://app.example.com/video/unique-booking-id"
    assert s.source_clock == {"calcom": "2024-01-01T00:00:00+00:00"}
    assert links(app)[("calcom", "unique-booking-id")] is True
    with hub_of(app).db.session() as db:
        coach = db.exec(select(Session.coach_id)).one()
        from app.models import Coach

        found = db.get(Coach, coach)
        assert found is not None
        assert (found.email, found.calcom_username) == ("organizer@example.com", "organizer-handle")


@pytest.mark.parametrize(
    ("trigger", "status"),
    [
        ("BOOKING_REQUESTED", "requested"),
        ("BOOKING_REJECTED", "rejected"),
        ("BOOKING_CANCELLED", "cancelled"),
        ("BOOKING_PAID", "confirmed"),
    ],
)
def test_each_recorded_trigger(app: Flask, client: FlaskClient, trigger: str, status: str) -> None:
    deliver(app, client, fixture(trigger))
    [s] = sessions(app)
    assert s.status == status
    assert states(app) == ["processed"]


def test_paid_keeps_the_payment_intent_as_a_stripe_link(app: Flask, client: FlaskClient) -> None:
    deliver(app, client, fixture("BOOKING_PAID"))
    [s] = sessions(app)
    assert (s.payment_status, s.payment_amount, s.payment_currency) == ("paid", 1000, "usd")
    assert links(app)[("stripe", "pi_0000000000000000")] is True


def test_no_show_marks_the_session(app: Flask, client: FlaskClient) -> None:
    first = booking(
        "BOOKING_CREATED",
        "5vQFqxDFMjdgKGMijqtqRw",
        "2025-11-30T10:00:00Z",
        "2025-12-01T10:00:00Z",
        "2025-12-01T11:00:00Z",
    )
    deliver(app, client, first, fixture("BOOKING_NO_SHOW_UPDATED"))
    [s] = sessions(app)
    assert (s.status, s.attended) == ("no_show", False)


def test_no_show_for_an_unknown_booking_fails_clearly(app: Flask, client: FlaskClient) -> None:
    deliver(app, client, fixture("BOOKING_NO_SHOW_UPDATED"))
    assert states(app) == ["failed"]
    assert sessions(app) == []


def test_meeting_started_and_ended_are_timeline_only(app: Flask, client: FlaskClient) -> None:
    created = booking(
        "BOOKING_CREATED",
        "unique-booking-identifier",
        "2024-01-01T08:00:00Z",
        "2024-01-01T10:00:00.000Z",
        "2024-01-01T10:15:00.000Z",
    )
    deliver(app, client, created, fixture("MEETING_STARTED"), fixture("MEETING_ENDED"))
    [s] = sessions(app)
    assert (s.status, s.version, s.actual_start) == ("confirmed", 1, None)
    with hub_of(app).db.session() as db:
        kinds = [e.kind for e in db.exec(select(SessionEvent).order_by(SessionEvent.id))]  # type: ignore[arg-type]
    assert kinds == ["created", "meeting_started", "meeting_ended"]


def test_unknown_trigger_is_stored_and_ignored(app: Flask, client: FlaskClient) -> None:
    body = {"triggerEvent": "OOO_CREATED", "createdAt": "2024-01-01T00:00:00Z", "payload": {}}
    deliver(app, client, body)
    assert states(app) == ["ignored"]
    assert sessions(app) == []


def test_form_encoded_body(app: Flask, client: FlaskClient) -> None:
    body = booking("BOOKING_CREATED", "form-1", "2030-01-01T00:00:00Z")
    raw = urlencode({"payload": json.dumps(body)}).encode()
    assert send(client, raw, form=True).status_code == 200
    drain(app)
    assert [s.status for s in sessions(app)] == ["confirmed"]


def test_duplicate_three_times(app: Flask, client: FlaskClient) -> None:
    body = fixture("BOOKING_CREATED")
    answers = [send(client, body).json["status"] for _ in range(3)]
    drain(app)
    assert answers == ["accepted", "duplicate", "duplicate"]
    assert states(app) == ["processed"]
    assert [s.version for s in sessions(app)] == [1]


def test_a_later_change_of_the_same_booking_is_not_a_duplicate(
    app: Flask, client: FlaskClient
) -> None:
    deliver(
        app,
        client,
        booking("BOOKING_CREATED", "b1", "2030-01-01T00:00:00Z"),
        booking(
            "BOOKING_CANCELLED",
            "b1",
            "2030-01-02T00:00:00Z",
            status="CANCELLED",
            cancellationReason="sick",
        ),
    )
    [s] = sessions(app)
    assert (s.status, s.cancellation_reason, s.version) == ("cancelled", "sick", 2)


def test_out_of_order_cancelled_then_created_stays_cancelled(
    app: Flask, client: FlaskClient
) -> None:
    deliver(
        app,
        client,
        booking("BOOKING_CANCELLED", "b1", "2030-01-02T00:00:00Z", status="CANCELLED"),
        booking("BOOKING_CREATED", "b1", "2030-01-01T00:00:00Z"),
    )
    [s] = sessions(app)
    assert (s.status, s.version) == ("cancelled", 1)
    assert states(app) == ["processed", "processed"]
    with hub_of(app).db.session() as db:
        late = db.exec(select(SessionEvent).where(SessionEvent.applied == False)).one()  # noqa: E712
    assert late.kind == "created"
    assert late.data["ignored"] == "older than current state"


def test_reschedule_chain_of_three_moves(app: Flask, client: FlaskClient) -> None:
    chain = [booking("BOOKING_CREATED", "uid-0", "2030-01-01T00:00:00Z")]
    for n in range(1, 4):
        chain.append(
            booking(
                "BOOKING_RESCHEDULED",
                f"uid-{n}",
                f"2030-01-0{n + 1}T00:00:00Z",
                f"2030-03-0{n + 1}T10:00:00Z",
                f"2030-03-0{n + 1}T11:00:00Z",
                rescheduleUid=f"uid-{n - 1}",
            )
        )
    deliver(app, client, *chain)
    [s] = sessions(app)
    assert (s.status, s.version) == ("confirmed", 4)
    assert s.start_at.isoformat() == "2030-03-04T10:00:00+00:00"
    calcom = {k: v for k, v in links(app).items() if k[0] == "calcom"}
    assert calcom == {
        ("calcom", "uid-0"): False,
        ("calcom", "uid-1"): False,
        ("calcom", "uid-2"): False,
        ("calcom", "uid-3"): True,
    }
    with hub_of(app).db.session() as db:
        kinds = [e.kind for e in db.exec(select(SessionEvent).order_by(SessionEvent.id))]  # type: ignore[arg-type]
    assert kinds == ["created", "rescheduled", "rescheduled", "rescheduled"]
    assert "cancelled" not in kinds


def test_late_delivery_about_a_replaced_uid_changes_nothing(
    app: Flask, client: FlaskClient
) -> None:
    deliver(
        app,
        client,
        booking("BOOKING_CREATED", "a", "2030-01-01T00:00:00Z"),
        booking(
            "BOOKING_RESCHEDULED",
            "b",
            "2030-01-02T00:00:00Z",
            rescheduleUid="a",
            start="2030-03-05T10:00:00Z",
            end="2030-03-05T11:00:00Z",
        ),
        booking("BOOKING_CANCELLED", "a", "2030-01-03T00:00:00Z", status="CANCELLED"),
    )
    [s] = sessions(app)
    assert (s.status, s.version) == ("confirmed", 2)


def test_host_request_reschedule_then_the_new_booking(app: Flask, client: FlaskClient) -> None:
    deliver(
        app,
        client,
        booking("BOOKING_CREATED", "a", "2030-01-01T00:00:00Z"),
        booking(
            "BOOKING_CANCELLED",
            "a",
            "2030-01-02T00:00:00Z",
            status="CANCELLED",
            requestReschedule=True,
            cancellationReason="coach travelling",
        ),
    )
    [s] = sessions(app)
    assert (s.status, s.cancellation_reason) == ("awaiting_reschedule", "coach travelling")
    deliver(
        app,
        client,
        booking(
            "BOOKING_RESCHEDULED",
            "b",
            "2030-01-03T00:00:00Z",
            "2030-03-09T10:00:00Z",
            "2030-03-09T11:00:00Z",
            rescheduleUid="a",
        ),
    )
    [s] = sessions(app)
    assert (s.status, s.version) == ("confirmed", 3)
    assert s.start_at.isoformat() == "2030-03-09T10:00:00+00:00"
    assert links(app)[("calcom", "b")] is True


def test_requested_with_reschedule_uid_moves_the_session_to_requested(
    app: Flask, client: FlaskClient
) -> None:
    deliver(
        app,
        client,
        booking("BOOKING_CREATED", "a", "2030-01-01T00:00:00Z"),
        booking(
            "BOOKING_REQUESTED",
            "b",
            "2030-01-02T00:00:00Z",
            "2030-03-07T10:00:00Z",
            "2030-03-07T11:00:00Z",
            rescheduleUid="a",
            status="PENDING",
        ),
    )
    [s] = sessions(app)
    assert (s.status, s.version) == ("requested", 2)
    assert s.start_at.isoformat() == "2030-03-07T10:00:00+00:00"


def test_signature_failures_store_nothing(app: Flask, client: FlaskClient) -> None:
    raw = json.dumps(fixture("BOOKING_CREATED")).encode()
    for headers in (
        {},
        {"X-Cal-Signature-256": "no-secret-provided"},
        {"X-Cal-Signature-256": "0" * 64},
    ):
        resp = client.post("/webhooks/calcom", data=raw, headers=headers)
        assert resp.status_code == 401
        assert resp.json["error"] == "invalid_signature"
    assert states(app) == []
