"""Booking through the API: free time only, never twice, series all or nothing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from connectors.sandbox.server import QuietRequestHandler

WEEK = {
    "timezone": "Europe/Paris",
    "rules": [
        {"weekday": d, "start": "09:00", "end": "17:00"}
        for d in ("mon", "tue", "wed", "thu", "fri")
    ],
}
ANN = {"email": "ann@example.com", "name": "Ann"}


def coach(client: FlaskClient, auth: dict[str, str], **policy: Any) -> str:
    made = client.post(
        "/api/coaches",
        json={"email": "c@example.com", "name": "Coach", "timezone": "Europe/Paris", **policy},
        headers=auth,
    )
    cid: str = made.json["id"]
    client.put(f"/api/coaches/{cid}/availability", json=WEEK, headers=auth)
    return cid


def booking(cid: str, start: str = "2027-03-22T10:00:00+01:00", **extra: Any) -> dict[str, Any]:
    return {
        "coach_id": cid,
        "attendee": ANN,
        "kind": "video",
        "start_at": start,
        "duration_minutes": 60,
        "timezone": "Europe/Paris",
        "title": "Coaching",
        **extra,
    }


def test_book_a_free_slot(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    resp = client.post("/api/sessions", json=booking(cid, reason="career"), headers=auth)
    assert resp.status_code == 201, resp.json
    s = resp.json
    assert (s["status"], s["version"], s["start_at"], s["end_at"]) == (
        "confirmed",
        1,
        "2027-03-22T09:00:00Z",
        "2027-03-22T10:00:00Z",
    )
    assert (s["attendee"]["email"], s["reason"], s["kind"]) == (
        "ann@example.com",
        "career",
        "video",
    )
    events = client.get(f"/api/sessions/{s['id']}/events", headers=auth).json["items"]
    assert [e["kind"] for e in events] == ["booked"]


def test_conflicts_buffer_and_hours(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth, buffer_minutes=15)
    assert client.post("/api/sessions", json=booking(cid), headers=auth).status_code == 201
    twice = client.post("/api/sessions", json=booking(cid), headers=auth)
    assert twice.status_code == 409
    assert twice.json["error"] == "slot_taken"
    assert twice.json["conflict"] == {
        "start": "2027-03-22T08:45:00Z",
        "end": "2027-03-22T10:15:00Z",
    }
    in_buffer = booking(cid, "2027-03-22T11:10:00+01:00")
    assert client.post("/api/sessions", json=in_buffer, headers=auth).status_code == 409
    late = client.post(
        "/api/sessions", json=booking(cid, "2027-03-22T16:30:00+01:00"), headers=auth
    )
    assert (late.status_code, late.json["message"]) == (
        409,
        "the time is outside the coach's hours",
    )
    bad = client.post("/api/sessions", json={**booking(cid), "kind": "hologram"}, headers=auth)
    assert (bad.status_code, bad.json["field"]) == (400, "kind")
    past = client.post(
        "/api/sessions", json=booking(cid, "2020-01-06T10:00:00+01:00"), headers=auth
    )
    assert (past.status_code, past.json["field"]) == (400, "start_at")


def test_series_across_dst_all_or_nothing(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    series = client.post(
        "/api/sessions",
        headers=auth,
        json=booking(cid, "2027-03-22T10:00:00+01:00", recurrence={"freq": "weekly", "count": 3}),
    )
    assert series.status_code == 201, series.json
    items = series.json["items"]
    assert [i["start_at"] for i in items] == [
        "2027-03-22T09:00:00Z",
        "2027-03-29T08:00:00Z",
        "2027-04-05T08:00:00Z",
    ]  # 10:00 Paris each week
    assert {i["series_id"] for i in items} == {series.json["series_id"]}
    clash = client.post(
        "/api/sessions",
        headers=auth,
        json=booking(
            cid, "2027-03-15T10:00:00+01:00", recurrence={"freq": "weekly", "until": "2027-04-30"}
        ),
    )
    assert clash.status_code == 409
    assert clash.json["occurrence"] == 1
    assert len(client.get(f"/api/sessions?coach_id={cid}", headers=auth).json["items"]) == 3
    rest = client.post(
        f"/api/sessions/{items[1]['id']}/cancel",
        headers=auth,
        json={"scope": "following", "by": "coach"},
    )
    assert rest.status_code == 200
    statuses = [client.get(f"/api/sessions/{i['id']}", headers=auth).json["status"] for i in items]
    assert statuses == ["confirmed", "cancelled", "cancelled"]


def test_reschedule_checks_the_new_time(client: FlaskClient, auth: dict[str, str]) -> None:
    cid = coach(client, auth)
    first = client.post("/api/sessions", json=booking(cid), headers=auth).json
    other = client.post(
        "/api/sessions", json=booking(cid, "2027-03-22T14:00:00+01:00"), headers=auth
    ).json
    moved = client.patch(
        f"/api/sessions/{first['id']}",
        headers=auth,
        json={"start_at": "2027-03-22T10:30:00+01:00", "duration_minutes": 60},
    )
    assert moved.status_code == 200  # overlapping its own old time is fine
    assert (moved.json["start_at"], moved.json["version"]) == ("2027-03-22T09:30:00Z", 2)
    taken = client.patch(
        f"/api/sessions/{first['id']}",
        headers=auth,
        json={"start_at": "2027-03-22T14:30:00+01:00", "duration_minutes": 30},
    )
    assert taken.status_code == 409
    assert other["id"] != first["id"]


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_twenty_concurrent_bookings_of_one_slot_give_one(
    client: FlaskClient, auth: dict[str, str], served: str
) -> None:
    cid = coach(client, auth)
    statuses: Counter[int] = Counter()
    gate = threading.Barrier(20)

    def attempt(i: int) -> None:
        body = {**booking(cid), "attendee": {"email": f"c{i}@example.com", "name": f"C{i}"}}
        with requests.Session() as http:
            gate.wait(timeout=10)
            statuses[
                http.post(f"{served}/api/sessions", json=body, headers=auth, timeout=30).status_code
            ] += 1

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == Counter({201: 1, 409: 19})
