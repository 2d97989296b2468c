"""Validly signed but malformed deliveries: stored, failed once with a clear reason, never
blocking the deliveries behind them (no poison-pill stalls), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import col, select

from app.models import Coach, Session, SessionEvent, WebhookDelivery
from connectors.limits import MAX_NOTES, MAX_PEOPLE
from tests.conftest import AppFactory, drain, hub_of
from tests.jobs.calcom_support import booking, calcom_app, send


@pytest.fixture
def app(make_app: AppFactory, db_url: str) -> Flask:
    return calcom_app(make_app, db_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def people(n: int) -> list[dict[str, Any]]:
    return [{"email": f"p{i}@example.com", "name": f"P {i}", "timeZone": "UTC"} for i in range(n)]


def created(uid: str, **payload: Any) -> dict[str, Any]:
    return booking("BOOKING_CREATED", uid, f"2030-02-01T09:00:{len(uid) % 60:02d}Z", **payload)


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    body["payload"].pop(key)
    return body


def with_trigger(body: dict[str, Any], trigger: str) -> dict[str, Any]:
    body["triggerEvent"] = trigger
    return body


def paid(uid: str, price: int) -> dict[str, Any]:
    body = booking("BOOKING_PAID", uid, "2030-02-01T09:30:00Z")
    body["payload"]["price"] = price
    return body


#: name -> (signed body, words the recorded reason must contain)
POISON: dict[str, tuple[dict[str, Any] | bytes, tuple[str, ...]]] = {
    "missing uid": (without(created("no-uid"), "uid"), ("uid is missing",)),
    "end before start": (
        created("backwards", start="2030-03-01T11:00:00Z", end="2030-03-01T10:00:00Z"),
        ("endTime is before", "startTime"),
    ),
    "unknown timezone": (
        created("mars", organizer={"email": "c@example.com", "timeZone": "Mars/Olympus_Mons"}),
        ("timeZone", "not an IANA time zone"),
    ),
    "10,000 attendees": (
        created("crowd", attendees=people(10_000)),
        ("10001 people", f"at most {MAX_PEOPLE}"),  # and the one guest in responses
    ),
    "900 KB payload": (
        created("huge", additionalNotes="n" * 900_000, description="d" * 100),
        ("notes", "900000 characters", f"at most {MAX_NOTES}"),
    ),
    "title over the column size": (created("long-title", title="t" * 501), ("title", "500")),
    "NUL in a title": (created("nul-title", title="a\x00b"), ("title", "NUL")),
    # an unknown trigger is ignored, and the reason quoting it must still be storable
    "NUL in the trigger": (
        with_trigger(created("nul-trigger"), "BOOKING\x00CREATED"),
        ("is not used by the hub",),
    ),
    "year 1 start": (
        created("year-one", start="0001-01-01T00:00:00+01:00"),
        ("startTime", "out of range"),
    ),
    # reminders are planned a day before the start: year 1 must not crash the job
    "year 1 (UTC)": (
        created("year-one-utc", start="0001-01-01T00:00:00Z", end="0001-01-01T01:00:00Z"),
        ("start 0001-01-01T00:00:00+00:00 is outside 1970..2199",),
    ),
    "amount beyond the column": (paid("created-ok", 2**40), ("payment amount", str(2**40))),
    "not JSON": (b"\xff\xfe{", ("not UTF-8",)),
}


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def test_poison_pills_fail_once_with_a_reason_and_never_block_the_next(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    # a valid booking first: the BOOKING_PAID pill must find a session to fail on its amount
    assert send(client, created("created-ok")).status_code == 200
    ids: dict[str, int] = {}
    for name, (body, _) in POISON.items():
        resp = send(client, body)
        assert resp.status_code == 200, (name, resp.get_json())
        ids[name] = resp.get_json()["delivery_id"]
    # the valid delivery right behind the poison pills
    # ... carrying an oversized metadata entry, which is not kept (Cal.com allows 500 chars)
    behind = send(client, created("after-the-pills", metadata={"huge": "m" * 500_000}))
    assert behind.status_code == 200
    drain(app)

    rows = {row.id: row for row in deliveries(app)}
    assert len(rows) == len(POISON) + 2  # every pill stored, none lost
    for name, (_, words) in POISON.items():
        row = rows[ids[name]]
        want = "ignored" if name == "NUL in the trigger" else "failed"
        assert row.state == want, (name, row.state, row.last_error)
        assert row.attempts == 1, name  # failed once: no retry, no dead-letter loop
        assert row.last_error, name
        for word in words:
            assert word in row.last_error, (name, row.last_error)
    assert rows[behind.get_json()["delivery_id"]].state == "processed"

    with hub_of(app).db.session() as db:
        assert db.exec(select(func.count()).select_from(Session)).one() == 2
        assert db.exec(select(func.count()).select_from(Coach)).one() == 1
        for event in db.exec(select(SessionEvent)):
            assert len(json.dumps(event.data)) < 20_000  # nothing huge reached the timeline

    # the dashboard's inbox view shows each failure and its reason
    listed = client.get("/api/deliveries?state=failed&limit=100", headers=auth).get_json()
    shown = {item["id"]: item["last_error"] for item in listed["items"]}
    assert set(shown) == set(ids.values()) - {ids["NUL in the trigger"]}
    assert "10001 people" in shown[ids["10,000 attendees"]]


def test_a_nul_in_a_graph_subscription_id_is_a_400_not_a_500(
    app: Flask, client: FlaskClient
) -> None:
    item = {"subscriptionId": "sub\x00-1", "clientState": "x", "changeType": "updated"}
    resp = client.post("/webhooks/outlook", json={"value": [item]})
    assert resp.status_code == 400
    assert "NUL" in resp.get_json()["message"]
    assert deliveries(app) == []
