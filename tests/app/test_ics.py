"""iCalendar files: a session's invitation and a coach's secret feed, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import icalendar
from flask import Flask
from flask.testing import FlaskClient

from app.ics import session_calendar, session_event
from app.kv import read_value
from app.models import Coach, Session
from tests.conftest import hub_of

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)


def add_coach(app: Flask, email: str, name: str = "Ana Coach") -> uuid.UUID:
    coach = Coach(email=email, name=name, timezone="Europe/Paris")
    with hub_of(app).db.session() as db:
        db.add(coach)
    return coach.id


def add_session(app: Flask, coach_id: uuid.UUID, start: datetime, **fields: Any) -> uuid.UUID:
    values: dict[str, Any] = {
        "coach_id": coach_id,
        "title": "Coaching",
        "attendee_email": "client@example.com",
        "attendee_name": "Cleo Client",
        "start_at": start,
        "end_at": start + timedelta(hours=1),
        "status": "confirmed",
        "meeting_url": "https://meet.example.com/r1",
    }
    values.update(fields)
    session = Session(**values)
    with hub_of(app).db.session() as db:
        db.add(session)
    return session.id


def parse(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    events = calendar.events
    assert len(events) == 1
    event: icalendar.Event = events[0]
    return event


def test_session_event_fields() -> None:
    coach = Coach(email="ana@example.com", name="Ana, PhD")
    start = datetime(2030, 1, 10, 10, tzinfo=UTC)
    session = Session(
        coach_id=coach.id,
        title="Intro",
        attendee_email="cleo@example.com",
        attendee_name='Cleo "C" Client',
        start_at=start,
        end_at=start + timedelta(minutes=45),
        meeting_url="https://meet.example.com/abc",
        version=3,
    )
    event = only_event(parse(session_calendar(session, coach)))
    assert str(event["uid"]) == f"{session.id}@sessionhub"
    assert event["sequence"] == 3
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=45)
    assert str(event["summary"]) == "Intro"
    assert str(event["location"]) == "https://meet.example.com/abc"
    assert str(event["url"]) == "https://meet.example.com/abc"
    assert "https://meet.example.com/abc" in str(event["description"])
    assert str(event["organizer"]) == "mailto:ana@example.com"
    assert event["organizer"].params["CN"] == "Ana, PhD"
    assert str(event["attendee"]) == "mailto:cleo@example.com"
    assert event["attendee"].params["CN"] == 'Cleo "C" Client'
    assert event["attendee"].params["ROLE"] == "REQ-PARTICIPANT"
    assert str(event["status"]) == "TENTATIVE"

    session.meeting_url, session.location, session.status = None, "Room 4", "completed"
    event = session_event(session, coach)
    assert str(event["location"]) == "Room 4"
    assert "description" not in event
    assert "url" not in event
    assert str(event["status"]) == "CONFIRMED"


def test_session_ics_follows_the_session(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    sid = add_session(app, add_coach(app, "ana@example.com"), SOON, status="requested")
    resp = client.get(f"/api/sessions/{sid}.ics", headers=auth)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="session-{sid}.ics"'
    calendar = parse(resp.data)
    assert str(calendar["method"]) == "REQUEST"
    assert str(calendar["prodid"]) == "-//SessionHub//EN"
    assert str(calendar["version"]) == "2.0"
    event = only_event(calendar)
    assert str(event["uid"]) == f"{sid}@sessionhub"
    assert event["sequence"] == 1
    assert str(event["status"]) == "TENTATIVE"
    assert event.decoded("dtstart") == SOON
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert event["dtstart"].to_ical() == SOON.strftime("%Y%m%dT%H%M%SZ").encode()

    assert client.post(f"/api/sessions/{sid}/confirm", headers=auth).status_code == 200
    event = only_event(parse(client.get(f"/api/sessions/{sid}.ics", headers=auth).data))
    assert event["sequence"] == 2
    assert str(event["status"]) == "CONFIRMED"

    cancelled = client.post(f"/api/sessions/{sid}/cancel", json={"by": "coach"}, headers=auth)
    assert cancelled.get_json()["version"] == 3
    calendar = parse(client.get(f"/api/sessions/{sid}.ics", headers=auth).data)
    assert str(calendar["method"]) == "CANCEL"
    event = only_event(calendar)
    assert event["sequence"] == 3
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == f"{sid}@sessionhub"


def test_ics_route_beside_the_json_route(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    sid = add_session(app, add_coach(app, "ana@example.com"), SOON)
    as_json = client.get(f"/api/sessions/{sid}", headers=auth)
    assert as_json.is_json
    assert as_json.get_json()["id"] == str(sid)
    as_ics = client.get(f"/api/sessions/{sid}.ics", headers=auth)
    assert as_ics.mimetype == "text/calendar"
    assert client.get(f"/api/sessions/{sid}/events", headers=auth).is_json

    unknown = client.get(f"/api/sessions/{uuid.uuid4()}.ics", headers=auth)
    assert unknown.status_code == 404
    assert unknown.get_json()["error"] == "not_found"
    assert client.get("/api/sessions/nope.ics", headers=auth).status_code == 400
    for headers in ({}, {"Authorization": "Bearer shk_nope"}):
        denied = client.get(f"/api/sessions/{sid}.ics", headers=headers)
        assert denied.status_code == 401
        assert denied.is_json


def feed_path(client: FlaskClient, auth: dict[str, str], coach_id: uuid.UUID) -> str:
    resp = client.post(f"/api/coaches/{coach_id}/ics-feed", headers=auth)
    assert resp.status_code == 201
    url: str = resp.get_json()["url"]
    assert url.startswith(f"http://127.0.0.1:8000/ics/coaches/{coach_id}/")
    assert url.endswith(".ics")
    return urlsplit(url).path


def test_coach_feed(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    ana, bo = add_coach(app, "ana@example.com"), add_coach(app, "bo@example.com", "Bo")
    live = add_session(app, ana, SOON)
    gone = add_session(app, ana, SOON + timedelta(days=1), status="cancelled", version=2)
    add_session(app, ana, SOON - timedelta(days=60))  # before the window
    add_session(app, ana, SOON + timedelta(days=400))  # after it
    add_session(app, bo, SOON)  # someone else's

    path = feed_path(client, auth, ana)
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert resp.headers["Cache-Control"] == "private, max-age=300"
    calendar = parse(resp.data)
    assert str(calendar["method"]) == "PUBLISH"
    assert str(calendar["x-wr-timezone"]) == "Europe/Paris"
    assert "Ana Coach" in str(calendar["x-wr-calname"])
    events = {str(e["uid"]): e for e in calendar.events}
    assert set(events) == {f"{live}@sessionhub", f"{gone}@sessionhub"}
    assert str(events[f"{live}@sessionhub"]["status"]) == "CONFIRMED"
    assert str(events[f"{gone}@sessionhub"]["status"]) == "CANCELLED"
    assert events[f"{gone}@sessionhub"]["sequence"] == 2

    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    with hub_of(app).db.session() as db:
        stored = read_value(db, f"ics-feed:{ana}")
    assert stored is not None
    assert token not in stored
    assert len(stored) == 64


def test_feed_rotate_revoke_and_wrong_tokens(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    ana, bo = add_coach(app, "ana@example.com"), add_coach(app, "bo@example.com")
    add_session(app, ana, SOON)
    old = feed_path(client, auth, ana)
    new = feed_path(client, auth, ana)
    assert old != new
    assert client.get(new).status_code == 200
    refused = client.get(old)
    assert refused.status_code == 404
    answer = refused.get_json()

    bo_path = feed_path(client, auth, bo)
    bo_token = bo_path.rsplit("/", 1)[1]
    for wrong in (
        f"/ics/coaches/{ana}/{bo_token}",  # another coach's token
        f"/ics/coaches/{ana}/nope.ics",
        f"/ics/coaches/{uuid.uuid4()}/{bo_token}",  # unknown coach
        f"/ics/coaches/not-a-uuid/{bo_token}",
    ):
        resp = client.get(wrong)
        assert resp.status_code == 404, wrong
        assert resp.get_json() == answer

    assert client.delete(f"/api/coaches/{ana}/ics-feed", headers=auth).status_code == 204
    assert client.get(new).status_code == 404
    assert client.get(new).get_json() == answer
    assert client.delete(f"/api/coaches/{ana}/ics-feed", headers=auth).status_code == 204
    assert client.get(bo_path).status_code == 200
    with hub_of(app).db.session() as db:
        assert read_value(db, f"ics-feed:{ana}") is None


def test_feed_management_needs_an_api_key(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    ana = add_coach(app, "ana@example.com")
    assert client.post(f"/api/coaches/{ana}/ics-feed").status_code == 401
    assert client.delete(f"/api/coaches/{ana}/ics-feed").status_code == 401
    bad = {"Authorization": "Bearer shk_nope"}
    assert client.post(f"/api/coaches/{ana}/ics-feed", headers=bad).status_code == 401
    unknown = client.post(f"/api/coaches/{uuid.uuid4()}/ics-feed", headers=auth)
    assert unknown.status_code == 404
    assert unknown.get_json()["field"] == "coach_id"
    assert client.delete(f"/api/coaches/{uuid.uuid4()}/ics-feed", headers=auth).status_code == 404
    assert client.post("/api/coaches/x/ics-feed", headers=auth).status_code == 400
