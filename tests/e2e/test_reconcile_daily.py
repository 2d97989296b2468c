"""Reconciliation and Daily both ways, against the sandbox over real HTTP, Redis and both DBs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests

from connectors.daily.outbound import room_name
from jobs.attendance import daily_watchdog, derive_attendance
from jobs.reconcile import reconcile
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
VIDEO = "integrations:office365_video"  # a video location without a join URL: the hub makes a room


def at(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def book(stack: Stack, start: datetime, minutes: int = 45, **extra: Any) -> dict[str, Any]:
    reply = stack.control(
        "POST",
        "/calcom/bookings",
        start=iso(start),
        end=iso(start + timedelta(minutes=minutes)),
        location=VIDEO,
        attendee={"email": "ann@example.com", "name": "Ann", "timeZone": "Europe/Paris"},
        **extra,
    )
    stack.settle()
    booking: dict[str, Any] = reply["booking"]
    return booking


def rooms(stack: Stack) -> dict[str, Any]:
    with stack.sandbox.state.lock:
        return dict(stack.sandbox.state.rooms)


def test_booking_gets_one_room_with_the_join_window(stack: Stack) -> None:
    start = at(days=2)
    booking = book(stack, start)
    session = stack.session_by("calcom", booking["uid"])
    name = room_name(session["id"])
    room = rooms(stack)[name]
    config = room.properties
    assert config["nbf"] == int((start - timedelta(minutes=15)).timestamp())
    assert config["exp"] == int((start + timedelta(minutes=45, hours=1)).timestamp())
    assert session["meeting_url"] == f"https://sandbox.daily.co/{name}"
    daily = [link for link in session["links"] if link["provider"] == "daily"]
    assert [(d["external_id"], d["state"]) for d in daily] == [(name, "synced")]
    assert stack.writes("daily") == [("POST", "/rooms")]


def test_reschedule_moves_the_same_room_and_cancel_deletes_it_once(stack: Stack) -> None:
    booking = book(stack, at(days=2))
    session = stack.session_by("calcom", booking["uid"])
    new_start = at(days=3)
    moved = stack.control(
        "POST",
        f"/calcom/bookings/{booking['uid']}/reschedule",
        start=iso(new_start),
        end=iso(new_start + timedelta(minutes=45)),
    )
    stack.settle()
    new_uid = moved["booking"]["uid"]
    assert stack.session_by("calcom", new_uid)["id"] == session["id"]
    name = room_name(session["id"])
    room = rooms(stack)[name]
    config = room.properties
    assert config["nbf"] == int((new_start - timedelta(minutes=15)).timestamp())
    assert len(rooms(stack)) == 1
    stack.control("POST", f"/calcom/bookings/{new_uid}/cancel", reason="ill")
    stack.settle()
    assert rooms(stack) == {}
    assert stack.writes("daily") == [
        ("POST", "/rooms"),
        ("POST", f"/rooms/{name}"),
        ("DELETE", f"/rooms/{name}"),
    ]
    assert stack.session_by("calcom", new_uid)["status"] == "cancelled"


def test_reconcile_twice_concurrently_makes_one_room(stack: Stack) -> None:
    stack.sandbox.faults.fail_next("daily", 503, count=1, method="POST", path="/rooms")
    booking = book(stack, at(days=2))  # the first create failed and is queued for retry
    session = stack.session_by("calcom", booking["uid"])
    stack.sandbox.state.requests.clear()
    results: list[str] = []

    def run() -> None:
        with stack.app.app_context():
            results.append(reconcile(session["id"], "daily"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stack.settle()
    assert sorted(results) in (["create", "nothing"], ["nothing", "nothing"])
    assert len(rooms(stack)) == 1
    assert stack.writes("daily").count(("POST", "/rooms")) <= 1


def test_429_then_success_honours_retry_after(stack: Stack) -> None:
    stack.sandbox.faults.fail_next(
        "daily", 429, count=1, method="POST", path="/rooms", retry_after=1
    )
    began = time.monotonic()
    booking = book(stack, at(days=2))
    assert time.monotonic() - began >= 1.0
    log = [
        (r.method, r.path, r.status)
        for r in stack.sandbox.state.requests_matching("daily")
        if r.method == "POST"
    ]
    assert log == [("POST", "/rooms", 429), ("POST", "/rooms", 200)]
    assert len(rooms(stack)) == 1
    assert stack.session_by("calcom", booking["uid"])["meeting_url"]


def test_500s_land_in_dead_letters_and_retry_from_the_api_works(stack: Stack) -> None:
    stack.sandbox.faults.fail_next("daily", 500, count=50, method="POST", path="/rooms")
    booking = book(stack, at(days=2))
    session = stack.session_by("calcom", booking["uid"])
    [daily] = [link for link in session["links"] if link["provider"] == "daily"]
    assert daily["state"] == "pending"
    assert "500" in (daily["last_error"] or "")
    [dead] = stack.get("/jobs/failed")["items"]
    assert dead["key"] == f"reconcile:daily:{session['id']}"
    assert "TransientError" in dead["traceback"]
    stack.sandbox.faults.clear()
    resp = stack.api.post(f"{stack.url}/api/jobs/{dead['id']}/retry", timeout=10)
    assert resp.status_code == 202
    stack.settle()
    assert stack.get("/jobs/failed")["items"] == []
    assert len(rooms(stack)) == 1
    assert stack.api.post(f"{stack.url}/api/jobs/nope/retry", timeout=10).status_code == 404


def join(stack: Stack, session_id: str, who: str) -> requests.Response:
    return stack.api.post(
        f"{stack.url}/api/sessions/{session_id}/join", json={"participant": who}, timeout=10
    )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the sandbox key
def test_join_tokens_before_within_and_after_the_window(stack: Stack) -> None:
    later = stack.session_by("calcom", book(stack, at(days=1))["uid"])
    early = join(stack, later["id"], "attendee")
    assert early.status_code == 403
    assert early.json()["error"] == "too_early"
    assert early.json()["opens_at"]

    soon_start = at(minutes=10)
    soon = stack.session_by("calcom", book(stack, soon_start, minutes=30)["uid"])
    ok = join(stack, soon["id"], "coach")
    assert ok.status_code == 200
    body = ok.json()
    assert body["url"] == soon["meeting_url"]
    claims = jwt.decode(
        body["token"],
        stack.sandbox.sandbox.config.api_keys["daily"],
        algorithms=["HS256"],
        options={"verify_nbf": False},
    )
    assert claims["r"] == room_name(soon["id"])
    assert (claims["ud"], claims["o"]) == ("coach", True)
    assert claims["nbf"] == int((soon_start - timedelta(minutes=15)).timestamp())
    assert claims["exp"] == int((soon_start + timedelta(minutes=90)).timestamp())
    assert claims["d"]
    attendee = jwt.decode(
        join(stack, soon["id"], "attendee").json()["token"], options={"verify_signature": False}
    )
    assert (attendee["ud"], attendee["o"], attendee["u"]) == ("attendee", False, "Ann")
    assert join(stack, soon["id"], "someone").status_code == 400
    # the domain id is read from Daily once for the hub, never when rooms are written
    domain_reads = [
        r
        for r in stack.sandbox.state.requests_matching("daily")
        if (r.method, r.path) == ("GET", "/")
    ]
    assert len(domain_reads) == 1

    past = stack.session_by("calcom", book(stack, at(hours=-3), minutes=30)["uid"])
    gone = join(stack, past["id"], "attendee")
    assert gone.status_code == 410
    assert gone.json()["error"] == "call_closed"
    stack.api.post(
        f"{stack.url}/api/sessions/{soon['id']}/cancel", json={"by": "coach"}, timeout=10
    )
    assert join(stack, soon["id"], "coach").status_code == 410


def call(stack: Stack, room: str, start: datetime, people: list[str], **extra: Any) -> None:
    participants = [
        {
            "user_id": who,
            "user_name": who.title(),
            "is_owner": who == "coach",
            "join_after_s": 30 * i,
            "stay_s": 1800,
        }
        for i, who in enumerate(people)
    ]
    stack.control(
        "POST",
        f"/daily/rooms/{room}/call",
        participants=participants,
        start_ts=int(start.timestamp()),
        **extra,
    )
    stack.settle()


def test_attendance_from_shuffled_duplicated_events(stack: Stack) -> None:
    start = at(hours=-2)
    session = stack.session_by("calcom", book(stack, start, minutes=30)["uid"])
    call(
        stack,
        room_name(session["id"]),
        start,
        ["coach", "attendee"],
        shuffle=True,
        seed=7,
        duplicate=True,
    )
    summary = stack.get(f"/sessions/{session['id']}/summary")
    assert summary["actual"]["start"] == iso(start)
    assert summary["call_status"] in ("completed", "interrupted")
    roles = sorted(p["role"] for p in summary["participants"])
    assert roles == ["attendee", "coach"]
    assert all(p["joins"] == 1 for p in summary["participants"])
    with stack.app.app_context():
        assert derive_attendance() == 1
        assert derive_attendance() == 0
    after = stack.get(f"/sessions/{session['id']}")
    assert (after["status"], after["attendance"]["attended"]) == ("completed", True)


def test_attendee_who_never_joined_is_a_no_show(stack: Stack) -> None:
    start = at(hours=-2)
    session = stack.session_by("calcom", book(stack, start, minutes=30)["uid"])
    call(stack, room_name(session["id"]), start, ["coach"])
    with stack.app.app_context():
        derive_attendance()
    assert stack.get(f"/sessions/{session['id']}")["status"] == "no_show"
    assert stack.get(f"/sessions/{session['id']}/summary")["call_status"] == "no-show"


def test_outcomes_wait_for_a_failed_daily_webhook_to_be_repaired(stack: Stack) -> None:
    start = at(hours=-2)
    session = stack.session_by("calcom", book(stack, start, minutes=30)["uid"])
    stack.control("POST", "/daily/webhook/fail")
    call(stack, room_name(session["id"]), start, ["coach", "attendee"])
    assert stack.get(f"/sessions/{session['id']}")["attendance"]["actual_start"] is None
    with stack.app.app_context():
        assert derive_attendance() == 1  # checks Daily first: re-activates and backfills
    assert stack.get(f"/sessions/{session['id']}")["status"] == "completed"


def test_watchdog_reactivates_then_backfills(stack: Stack) -> None:
    start = at(hours=-2)
    session = stack.session_by("calcom", book(stack, start, minutes=30)["uid"])
    stack.control("POST", "/daily/webhook/fail")
    call(stack, room_name(session["id"]), start, ["coach", "attendee"])
    with stack.app.app_context():
        assert daily_watchdog() == 1
    hooks = stack.control("GET", "/state")["daily"]["webhooks"]
    assert {h["state"] for h in hooks} == {"ACTIVE"}
    summary = stack.get(f"/sessions/{session['id']}/summary")
    assert summary["actual"]["start"] == iso(start)
    assert sorted(p["role"] for p in summary["participants"]) == ["attendee", "coach"]
    with stack.app.app_context():
        derive_attendance()
    assert stack.get(f"/sessions/{session['id']}")["status"] == "completed"
