"""The Cal.com catch-up sweep: repairs a lost webhook, never duplicates a delivered one."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from flask import Flask
from sqlmodel import select

from app.kv import read_value
from app.models import Session, SessionEvent
from jobs.catch_up import _cursor_name, calcom_catch_up
from jobs.sweeps import run_all, schedule
from tests.conftest import AppFactory, drain, hub_of
from tests.jobs.calcom_support import FIXTURES, booking, calcom_app, send

API = "http://calcom.test/v2"
KEY = "cal_test_key"


def api_booking(uid: str, updated: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "api-v2-booking.json").read_text()))
    data.update({"uid": uid, "updatedAt": updated, "rescheduledFromUid": None, "metadata": {}})
    for attendee in data["attendees"]:
        attendee["absent"] = False
    data.update(fields)
    return data


@pytest.fixture
def app(make_app: AppFactory, db_url: str) -> Flask:
    return calcom_app(make_app, db_url, api_keys={"calcom": KEY}, api_urls={"calcom": API})


def listing(rsps: responses.RequestsMock, *bookings: dict[str, Any]) -> None:
    rsps.get(f"{API}/bookings", json={"status": "success", "data": list(bookings)})


def sessions(app: Flask) -> list[Session]:
    with hub_of(app).db.session() as db:
        return list(db.exec(select(Session)))


@responses.activate
def test_recovers_a_booking_whose_webhook_never_came(app: Flask) -> None:
    listing(responses.mock, api_booking("lost-1", "2030-01-01T10:00:00Z"))
    with app.app_context():
        assert calcom_catch_up() == 1
    [s] = sessions(app)
    assert (s.status, s.attendee_email, s.timezone) == (
        "confirmed",
        "guest@example.com",
        "Europe/Rome",
    )
    assert s.start_at.isoformat() == "2026-03-02T09:00:00+00:00"
    call = responses.calls[0].request
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.headers["cal-api-version"] == "2024-08-13"
    with hub_of(app).db.session() as db:
        assert read_value(db, _cursor_name(KEY)) == "2030-01-01T10:00:00+00:00"
        assert KEY not in (read_value(db, _cursor_name(KEY)) or "")


@responses.activate
def test_does_not_duplicate_a_booking_the_webhook_delivered(app: Flask) -> None:
    body = booking(
        "BOOKING_CREATED",
        "seen-1",
        "2030-01-01T10:00:05Z",
        "2026-03-02T09:00:00.000Z",
        "2026-03-02T09:45:00.000Z",
    )
    body["payload"]["organizer"]["timeZone"] = "Europe/Rome"
    body["payload"]["metadata"] = {"videoCallUrl": "https://app.cal.com/video/api-booking-uid"}
    assert send(app.test_client(), body).status_code == 200
    drain(app)
    [before] = sessions(app)
    listing(responses.mock, api_booking("seen-1", "2030-01-01T10:00:00Z"))
    with app.app_context():
        calcom_catch_up()
    [after] = sessions(app)
    assert after.id == before.id
    assert after.status == "confirmed"
    with hub_of(app).db.session() as db:
        kinds = [e.kind for e in db.exec(select(SessionEvent))]
    assert kinds.count("created") == 1


@responses.activate
def test_cursor_advances_and_is_used_next_time(app: Flask) -> None:
    listing(
        responses.mock,
        api_booking("c-1", "2030-01-01T10:00:00Z"),
        api_booking("c-2", "2030-01-01T12:00:00Z"),
    )
    with app.app_context():
        calcom_catch_up()
        calcom_catch_up()
    second = parse_qs(urlparse(responses.calls[-1].request.url).query)
    assert second["afterUpdatedAt"] == ["2030-01-01T11:58:00Z"]  # the cursor minus overlap
    assert second["sortUpdatedAt"] == ["asc"]
    assert len(sessions(app)) == 2


@responses.activate
def test_reschedule_seen_only_by_the_sweep_continues_the_session(app: Flask) -> None:
    listing(
        responses.mock,
        api_booking("old", "2030-01-01T09:00:00Z", status="cancelled", rescheduledToUid="new"),
        api_booking("new", "2030-01-01T09:00:01Z", rescheduledFromUid="old"),
    )
    assert (
        send(
            app.test_client(), booking("BOOKING_CREATED", "old", "2030-01-01T08:00:00Z")
        ).status_code
        == 200
    )
    drain(app)
    with app.app_context():
        calcom_catch_up()
    [s] = sessions(app)
    assert (s.status, s.version) == ("confirmed", 2)
    assert s.start_at.isoformat() == "2026-03-02T09:00:00+00:00"


@responses.activate
def test_an_absent_attendee_seen_twice_is_one_change(app: Flask) -> None:
    absent = api_booking("gone-1", "2030-01-01T10:00:00Z")
    absent["attendees"][0]["absent"] = True
    listing(responses.mock, absent)
    with app.app_context():
        assert calcom_catch_up() == 1
        assert calcom_catch_up() == 0
    [s] = sessions(app)
    assert (s.status, s.attended, s.version) == ("no_show", False, 1)


@responses.activate
def test_a_refused_key_pauses_without_failing(app: Flask) -> None:
    responses.get(f"{API}/bookings", status=401, json={"status": "error"})
    with app.app_context():
        assert calcom_catch_up() == 0


def test_catch_up_is_scheduled_only_with_an_api_key(
    app: Flask, make_app: AppFactory, db_url: str
) -> None:
    assert schedule(hub_of(app).settings)["jobs.catch_up.calcom_catch_up"] == 600
    plain = make_app(db_url)
    assert "jobs.catch_up.calcom_catch_up" not in schedule(hub_of(plain).settings)
    with plain.app_context():
        ran = run_all()
    assert "jobs.catch_up.calcom_catch_up" not in ran
    assert ran["jobs.sweeps.requeue_stuck_deliveries"] == 0


@responses.activate
def test_repairs_are_counted_as_drift_for_the_ops_dashboard(app: Flask) -> None:
    from app.ops import session_health

    listing(responses.mock, api_booking("lost-2", "2030-01-01T10:00:00Z"))
    with app.app_context():
        assert calcom_catch_up() == 1
        assert calcom_catch_up() == 0  # nothing new the second time: no drift
    with hub_of(app).db.session() as db:
        assert session_health(db).drift_day == 1
