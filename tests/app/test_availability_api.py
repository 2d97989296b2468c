"""Availability and slots through the API, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.models import BusyInterval, CalendarConnection, CalendarFeed, Coach, Session
from tests.conftest import hub_of

HOURS = {
    "timezone": "Europe/Paris",
    "rules": [
        {"weekday": d, "start": "09:00", "end": "17:00"}
        for d in ("mon", "tue", "wed", "thu", "fri")
    ],
    "overrides": [
        {"date": "2027-12-24", "available": False},
        {"date": "2027-12-26", "available": True, "start": "10:00", "end": "12:00"},
    ],
}


def coach(client: FlaskClient, auth: dict[str, str], **policy: Any) -> str:
    made = client.post(
        "/api/coaches",
        json={
            "email": "paris@example.com",
            "name": "P",
            "timezone": "Europe/Paris",
            "min_notice_minutes": 0,
            "horizon_days": 730,
            **policy,
        },
        headers=auth,
    )
    coach_id: str = made.json["id"]
    assert (
        client.put(f"/api/coaches/{coach_id}/availability", json=HOURS, headers=auth).status_code
        == 200
    )
    return coach_id


def slots(
    client: FlaskClient, auth: dict[str, str], coach_id: str, day: str, **params: str
) -> list[dict[str, str]]:
    resp = client.get(
        f"/api/coaches/{coach_id}/slots",
        headers=auth,
        query_string={"from": f"{day}T00:00:00+01:00", "to": f"{day}T23:59:00+01:00", **params},
    )
    assert resp.status_code == 200, resp.json
    found: list[dict[str, str]] = resp.json["slots"]
    return found


def test_round_trip_and_validation(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    assert client.get(f"/api/coaches/{cid}/availability", headers=auth).json == HOURS
    bad = client.put(
        f"/api/coaches/{cid}/availability",
        headers=auth,
        json={"rules": [{"weekday": "mon", "start": "09:00", "end": "08:00"}]},
    )
    assert (bad.status_code, bad.json["field"]) == (400, "rules[0].end")
    assert client.put(
        f"/api/coaches/{cid}/availability",
        headers=auth,
        json={"rules": [{"weekday": "funday", "start": "09:00", "end": "10:00"}]},
    ).json["field"] == ("rules[0].weekday")
    assert client.put(
        f"/api/coaches/{cid}/availability",
        headers=auth,
        json={"overrides": [{"date": "2030-13-01", "available": False}]},
    ).json["field"] == ("overrides[0].date")
    assert (
        client.put(
            f"/api/coaches/{cid}/availability", headers=auth, json={"timezone": "Nowhere/Land"}
        ).json["field"]
        == "timezone"
    )


def test_slots_follow_rules_overrides_and_zones(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    monday = slots(client, auth, cid, "2027-12-20")
    assert len(monday) == 16
    assert monday[0]["start"] == "2027-12-20T08:00:00Z"
    assert monday[0]["local_start"] == "2027-12-20T09:00:00+01:00"
    assert slots(client, auth, cid, "2027-12-24") == []  # blocked day
    sunday = slots(client, auth, cid, "2027-12-26")  # extra hours on a Sunday
    assert [s["local_start"][11:16] for s in sunday] == ["10:00", "10:30", "11:00", "11:30"]
    seen_from_ny = slots(client, auth, cid, "2027-12-20", tz="America/New_York")
    assert seen_from_ny[0]["local_start"] == "2027-12-20T03:00:00-05:00"
    hours = slots(client, auth, cid, "2027-12-20", duration="60", step="60")
    assert len(hours) == 8


def test_sessions_with_buffer_and_calendar_busy_are_taken(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    cid = coach(client, auth, buffer_minutes=15)
    with hub_of(app).db.session() as db:
        c = db.exec(select(Coach)).one()
        start = datetime(2027, 12, 20, 9, tzinfo=UTC)  # 10:00 Paris
        db.add(
            Session(
                coach_id=c.id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                status="confirmed",
            )
        )
        db.add(
            Session(
                coach_id=c.id,
                start_at=start + timedelta(hours=3),
                end_at=start + timedelta(hours=4),
                status="cancelled",
            )
        )
        conn = CalendarConnection(coach_id=c.id, provider="google", account_email="p@x.io")
        db.add(conn)
        db.flush()
        feed = CalendarFeed(connection_id=conn.id, calendar_id="p@x.io")
        db.add(feed)
        db.flush()
        db.add(
            BusyInterval(
                coach_id=c.id,
                feed_id=feed.id,
                event_id="dentist",
                start_at=start + timedelta(hours=5),
                end_at=start + timedelta(hours=6),
            )
        )
    walls = [s["local_start"][11:16] for s in slots(client, auth, cid, "2027-12-20")]
    assert "09:30" not in walls
    assert "10:00" not in walls
    assert "10:30" not in walls
    assert "09:00" in walls
    assert "11:00" in walls
    assert "13:00" in walls  # the cancelled session frees its time
    assert "15:00" not in walls
    assert "15:30" not in walls


def test_notice_horizon_and_bad_windows(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    client.patch(f"/api/coaches/{cid}", json={"horizon_days": 1}, headers=auth)
    assert slots(client, auth, cid, "2027-12-20") == []  # beyond the booking horizon
    resp = client.get(
        f"/api/coaches/{cid}/slots",
        headers=auth,
        query_string={"from": "2027-12-20T00:00:00Z", "to": "2030-12-22T00:00:00Z"},
    )
    assert (resp.status_code, resp.json["field"]) == (400, "to")
    assert (
        client.get(
            f"/api/coaches/{cid}/slots",
            headers=auth,
            query_string={"from": "2030-01-01T00:00:00Z", "to": "2030-06-01T00:00:00Z"},
        ).json["field"]
        == "to"
    )
    assert (
        client.get(
            f"/api/coaches/{cid}/slots",
            headers=auth,
            query_string={
                "from": "2030-01-01T00:00:00Z",
                "to": "2030-01-02T00:00:00Z",
                "duration": "1",
            },
        ).json["field"]
        == "duration"
    )
