"""Google Calendar both ways, against the sandbox: link, write, read back, recover."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlmodel import select

from app.calendars import unseal
from app.models import CalendarConnection, CalendarFeed, WebhookDelivery
from app.queue import RedisQueue
from connectors.daily.outbound import room_name
from connectors.google.mapping import event_id
from jobs.channels import renew_channels
from tests.conftest import hub_of
from tests.e2e.google_support import (
    COACH,
    connections,
    forms,
    google_events,
    link_google,
    link_url,
    loopback_browser,
    make_coach,
    refresh_concurrently,
)
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
VIDEO = "integrations:office365_video"


def at(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def linked(stack: Stack) -> tuple[str, dict[str, Any]]:
    coach = make_coach(stack)
    page = link_google(stack, coach)
    assert page.status_code == 200, page.text
    assert "Your calendar is linked" in page.text
    stack.settle()
    [conn] = connections(stack, coach)
    return coach, conn


def new_booking(stack: Stack, start: datetime, minutes: int = 45) -> dict[str, Any]:
    """A video booking in the sandbox's Cal.com (its webhook is delivered, not yet handled)."""
    reply: dict[str, Any] = stack.control(
        "POST",
        "/calcom/bookings",
        start=iso(start),
        end=iso(start + timedelta(minutes=minutes)),
        location=VIDEO,
        attendee={"email": "ann@example.com", "name": "Ann", "timeZone": "Europe/Paris"},
    )
    return reply


def book(stack: Stack, start: datetime, minutes: int = 45) -> dict[str, Any]:
    reply = new_booking(stack, start, minutes)
    stack.settle()
    session = stack.session_by("calcom", reply["booking"]["uid"])
    return {**session, "uid": reply["booking"]["uid"]}


def writes(stack: Stack, provider: str = "google") -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in stack.sandbox.state.requests_matching(provider)
        if r.method in ("POST", "PATCH", "PUT", "DELETE")
        and "/events" in r.path
        and not r.path.endswith("/watch")
    ]


def test_link_stores_tokens_encrypted_and_opens_channels(stack: Stack) -> None:
    coach, conn = linked(stack)
    assert (conn["provider"], conn["account_email"], conn["state"]) == ("google", COACH, "active")
    assert conn["destination_calendar"] == COACH
    assert conn["feeds"][0]["channel_expires_at"]
    with stack.app.app_context():
        from app.hub import hub

        with hub().db.session() as db:
            row = db.exec(select(CalendarConnection)).one()
            raw = row.tokens_encrypted or ""
            tokens = unseal(hub(), raw)
    assert tokens.access_token
    assert tokens.refresh_token
    assert tokens.access_token not in raw
    assert tokens.refresh_token not in raw
    assert "access_token" not in raw


def test_state_tampering_and_replay_are_refused(stack: Stack) -> None:
    coach = make_coach(stack)
    browser = loopback_browser()
    start = browser.get(link_url(stack, coach), timeout=10)
    action, hidden, _ = forms(start.text)[0]
    consent = browser.post(f"{stack.url}{action}", data=hidden, timeout=10)
    action, hidden, _ = forms(consent.text)[0]
    back = browser.post(
        f"{stack.sandbox.url}{action}" if action.startswith("/") else action,
        data={**hidden, "login_hint": COACH, "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    callback = back.headers["Location"]
    tampered = callback.replace("state=", "state=x")
    assert browser.get(tampered, timeout=10).status_code == 400
    stranger = requests.get(callback, timeout=10)  # another browser: no session, no nonce
    assert stranger.status_code == 400
    assert "does not belong to this browser" in stranger.text
    assert browser.get(callback, timeout=10).status_code == 200
    assert browser.get(callback, timeout=10).status_code == 400  # replayed: nonce used up
    assert requests.get(f"{stack.url}/connect/google?token=forged", timeout=10).status_code == 400


def test_session_created_rescheduled_cancelled_is_one_event_created_patched_deleted(
    stack: Stack,
) -> None:
    linked(stack)
    session = book(stack, at(days=2))
    eid = event_id(session["id"])
    event = google_events(stack)[eid]
    assert event["extendedProperties"]["private"]["sessionhub_session_id"] == session["id"]
    assert event["start"]["dateTime"].startswith(session["start_at"][:16])
    new_start = at(days=3)
    moved = stack.control(
        "POST",
        f"/calcom/bookings/{session['uid']}/reschedule",
        start=iso(new_start),
        end=iso(new_start + timedelta(minutes=45)),
    )
    stack.settle()
    stack.control("POST", f"/calcom/bookings/{moved['booking']['uid']}/cancel", reason="ill")
    stack.settle()
    assert google_events(stack)[eid]["status"] == "cancelled"
    ops = [m for m, _ in writes(stack)]
    assert ops.count("POST") == 1
    assert ops.count("PATCH") >= 1
    assert ops.count("DELETE") == 1


def test_echo_of_our_own_write_changes_nothing(stack: Stack) -> None:
    linked(stack)
    session = book(stack, at(days=2))
    before = stack.get(f"/sessions/{session['id']}")
    stack.settle()  # the pushes for our own writes have been read by now
    after = stack.get(f"/sessions/{session['id']}")
    assert after["version"] == before["version"]
    assert [e["kind"] for e in stack.get(f"/sessions/{session['id']}/events")["items"]].count(
        "moved_in_calendar"
    ) == 0


def test_coach_moves_the_event_and_everything_follows(stack: Stack) -> None:
    linked(stack)
    session = book(stack, at(days=2))
    eid = event_id(session["id"])
    new_start = at(days=4)
    stack.control(
        "PATCH",
        f"/google/calendars/{COACH}/events/{eid}",
        start=iso(new_start),
        end=iso(new_start + timedelta(minutes=45)),
    )
    stack.settle()
    moved = stack.get(f"/sessions/{session['id']}")
    assert moved["start_at"] == iso(new_start)
    room = stack.sandbox.state.rooms[room_name(session["id"])]
    assert room.properties["nbf"] == int((new_start - timedelta(minutes=15)).timestamp())
    bookings = stack.control("GET", "/state")["calcom"]["bookings"]
    live = [b for b in bookings if b["status"] == "accepted"]
    assert [b["start"][:19] for b in live] == [iso(new_start)[:19]]
    assert stack.session_by("calcom", live[0]["uid"])["id"] == session["id"]


def test_coach_deletes_the_event_flagged_by_default_cancelled_by_policy(stack: Stack) -> None:
    coach, _ = linked(stack)
    first = book(stack, at(days=2))
    stack.control("DELETE", f"/google/calendars/{COACH}/events/{event_id(first['id'])}")
    stack.settle()
    flagged = stack.get(f"/sessions/{first['id']}")
    assert (flagged["status"], flagged["needs_review"]) == ("confirmed", True)
    stack.api.patch(
        f"{stack.url}/api/coaches/{coach}", json={"calendar_delete_policy": "cancel"}, timeout=10
    )
    second = book(stack, at(days=3))
    stack.control("DELETE", f"/google/calendars/{COACH}/events/{event_id(second['id'])}")
    stack.settle()
    assert stack.get(f"/sessions/{second['id']}")["status"] == "cancelled"
    assert room_name(second["id"]) not in stack.sandbox.state.rooms


def test_other_events_become_busy_time_and_410_resyncs(stack: Stack) -> None:
    coach, _ = linked(stack)
    start = at(days=1)
    stack.control(
        "POST",
        f"/google/calendars/{COACH}/events",
        summary="Dentist",
        start=iso(start),
        end=iso(start + timedelta(hours=1)),
    )
    stack.settle()
    from app.hub import hub
    from app.models import BusyInterval

    with stack.app.app_context(), hub().db.session() as db:
        busy = list(db.exec(select(BusyInterval)))
    assert [(b.start_at, b.end_at) for b in busy] == [(start, start + timedelta(hours=1))]
    stack.control("POST", f"/google/calendars/{COACH}/invalidate-sync-tokens")
    stack.control(
        "POST",
        f"/google/calendars/{COACH}/events",
        summary="Gym",
        start=iso(start + timedelta(hours=3)),
        end=iso(start + timedelta(hours=4)),
    )
    stack.settle()
    with stack.app.app_context(), hub().db.session() as db:
        assert len(list(db.exec(select(BusyInterval)))) == 2


def test_unknown_channel_is_answered_and_stopped(stack: Stack) -> None:
    linked(stack)
    resp = requests.post(
        f"{stack.url}/webhooks/google",
        timeout=10,
        headers={
            "X-Goog-Channel-ID": str(uuid.uuid4()),
            "X-Goog-Channel-Token": "whatever",
            "X-Goog-Resource-State": "exists",
            "X-Goog-Resource-ID": "unknown-resource",
            "X-Goog-Message-Number": "7",
        },
    )
    assert resp.status_code == 200
    assert resp.json()["unknown"] == 1
    wrong = requests.post(
        f"{stack.url}/webhooks/google",
        timeout=10,
        headers={
            "X-Goog-Channel-ID": _channel(stack),
            "X-Goog-Channel-Token": "not-the-token",
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "8",
        },
    )
    assert wrong.status_code == 401


def _channel(stack: Stack) -> str:
    from app.hub import hub

    with stack.app.app_context(), hub().db.session() as db:
        feed = db.exec(select(CalendarFeed)).first()
        assert feed is not None
        assert feed.channel_id
        return feed.channel_id


def test_burst_of_50_pushes_is_one_sync(stack: Stack) -> None:
    linked(stack)
    channel = _channel(stack)
    stack.sandbox.state.requests.clear()
    for _ in range(50):
        stack.control("POST", f"/google/channels/{channel}/push")
    stack.settle()
    lists = [
        r
        for r in stack.sandbox.state.requests_matching("google", "GET")
        if r.path.endswith("/events")
    ]
    assert len(lists) == 1


def test_channels_are_renewed_before_expiry(stack: Stack) -> None:
    linked(stack)
    old = _channel(stack)
    from app.hub import hub

    with stack.app.app_context():
        with hub().db.session() as db:
            feed = db.exec(select(CalendarFeed)).one()
            feed.channel_expires_at = datetime.now(UTC) + timedelta(hours=2)
            db.add(feed)
        assert renew_channels() == 1
    new = _channel(stack)
    assert new != old
    channels = stack.control("GET", "/state")["google"]["channels"]
    live = {
        c["id"]
        for c in (channels.values() if isinstance(channels, dict) else channels)
        if not c.get("stopped")
    }
    assert new in live
    assert old not in live


def test_refresh_race_refreshes_once(stack: Stack) -> None:
    linked(stack)
    from app.hub import hub

    with stack.app.app_context():
        with hub().db.session() as db:
            conn = db.exec(select(CalendarConnection)).one()
        stack.control("POST", f"/google/accounts/{COACH}/expire-tokens")
        _expire_locally(conn.id)
        before = _refreshes(stack)
    errors = refresh_concurrently(stack, str(conn.id))
    assert errors == []
    assert _refreshes(stack) == before + 1


def _expire_locally(connection_id: uuid.UUID) -> None:
    from dataclasses import replace

    from app.calendars import seal
    from app.hub import hub

    with hub().db.session() as db:
        conn = db.get(CalendarConnection, connection_id)
        assert conn is not None
        assert conn.tokens_encrypted
        tokens = unseal(hub(), conn.tokens_encrypted)
        conn.tokens_encrypted = seal(
            hub(), replace(tokens, expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        db.add(conn)


def _refreshes(stack: Stack) -> int:
    accounts = stack.control("GET", "/state")["google"]["accounts"]
    found = (
        accounts.get(COACH)
        if isinstance(accounts, dict)
        else next(a for a in accounts if a["email"] == COACH)
    )
    count: int = found.get("refreshes", found.get("refresh_count", 0))
    return count


def test_invalid_grant_needs_reauth_then_relink_resumes_without_duplicates(stack: Stack) -> None:
    coach, conn = linked(stack)
    first = book(stack, at(days=2))
    stack.control("POST", f"/google/accounts/{COACH}/revoke-grant")
    from app.hub import hub

    with stack.app.app_context():
        _expire_locally(uuid.UUID(conn["id"]))
    second = book(stack, at(days=3))
    [conn] = connections(stack, coach)
    assert conn["state"] == "needs_reauth"
    parked = [
        link
        for link in stack.get(f"/sessions/{second['id']}")["links"]
        if link["provider"] == "google"
    ]
    assert parked[0]["state"] == "pending"
    assert "re-link" in (parked[0]["last_error"] or "") or "link" in (parked[0]["last_error"] or "")
    settings = link_google(stack, coach)  # the coach opens a new link and allows again
    assert settings.status_code == 200
    stack.settle()
    [conn] = connections(stack, coach)
    assert conn["state"] == "active"
    events = google_events(stack)
    ours = [
        e
        for e in events.values()
        if e.get("status") != "cancelled"
        and e.get("extendedProperties", {}).get("private", {}).get("sessionhub_session_id")
    ]
    assert sorted(e["id"] for e in ours) == sorted([event_id(first["id"]), event_id(second["id"])])
    with stack.app.app_context(), hub().db.session() as db:
        assert len(list(db.exec(select(CalendarConnection)))) == 1


def test_unlink_stops_channels_removes_events_and_revokes(stack: Stack) -> None:
    coach, conn = linked(stack)
    session = book(stack, at(days=2))
    eid = event_id(session["id"])
    assert google_events(stack)[eid]["status"] != "cancelled"
    resp = stack.api.delete(f"{stack.url}/api/coaches/{coach}/connections/{conn['id']}", timeout=10)
    assert resp.status_code == 202
    stack.settle()
    assert google_events(stack)[eid]["status"] == "cancelled"
    [after] = connections(stack, coach)
    assert after["state"] == "revoked"
    channels = stack.control("GET", "/state")["google"]["channels"]
    assert all(c.get("stopped") or not c.get("live") for c in channels)
    later = book(stack, at(days=3))  # no calendar any more: nothing is written there
    assert event_id(later["id"]) not in google_events(stack)


def test_many_sessions_changing_at_once_are_written_in_a_batch(stack: Stack) -> None:
    linked(stack)
    stack.sandbox.state.requests.clear()
    for day in range(1, 11):
        start = at(days=day)
        stack.control(
            "POST",
            "/calcom/bookings",
            start=iso(start),
            end=iso(start + timedelta(minutes=45)),
            location="attendeeInPerson",
            attendee={"email": f"c{day}@example.com", "name": f"Client {day}"},
        )
    stack.settle()
    records = stack.sandbox.state.requests_matching("google", "POST")
    batches = [r for r in records if r.path.endswith("/batch/calendar/v3")]
    single = [r for r in records if r.path.endswith("/events") and not r.batch]
    inner = [r for r in records if r.path.endswith("/events") and r.batch]
    assert len(batches) >= 1
    assert len(inner) + len(single) == 10
    assert len(single) <= 1
    events = [e for e in google_events(stack).values() if e.get("status") != "cancelled"]
    assert len(events) == 10


def book_and_park_google(stack: Stack) -> dict[str, Any]:
    """A video booking ingested, and Google's job run before Daily's has made the room."""
    from jobs.ingest import ingest_delivery
    from jobs.reconcile import WAITING_FOR_ROOM, reconcile

    linked(stack)
    reply = new_booking(stack, at(days=2))
    app = stack.app
    with hub_of(app).db.session() as db:
        [delivery] = db.exec(
            select(WebhookDelivery.id).where(WebhookDelivery.state == "received")
        ).all()
    uid = reply["booking"]["uid"]
    with app.app_context():
        assert delivery is not None
        assert ingest_delivery(delivery) == "processed"  # the room and event jobs queued
        assert reconcile(stack.session_by("calcom", uid)["id"], "google") == "nothing"
    [link] = [ln for ln in stack.session_by("calcom", uid)["links"] if ln["provider"] == "google"]
    assert (link["state"], link["last_error"]) == ("pending", WAITING_FOR_ROOM)
    return {"uid": uid}


def test_a_video_sessions_event_waits_for_its_room_and_is_written_once(stack: Stack) -> None:
    """Parked until the room exists, the event is created with its join URL: one write, not a
    create and a patch."""
    uid = book_and_park_google(stack)["uid"]
    stack.settle()
    session = stack.session_by("calcom", uid)
    event = google_events(stack)[event_id(session["id"])]
    assert session["meeting_url"] in event["description"]
    assert [m for m, _ in writes(stack)] == ["POST"]


def test_a_daily_outage_does_not_keep_the_session_out_of_the_calendar(stack: Stack) -> None:
    """Daily refuses every attempt: the parked event is written without the room."""
    uid = book_and_park_google(stack)["uid"]
    queue = hub_of(stack.app).queue
    assert isinstance(queue, RedisQueue)
    for job in queue.queue.get_jobs():  # only the failing room's job can wake the event now
        if (job.description or "").startswith("reconcile:google:"):
            queue.queue.remove(job)
            queue.started(job.description or "")
    stack.sandbox.faults.fail_next("daily", 500, count=10, method="POST", path="/rooms")
    stack.settle()
    session = stack.session_by("calcom", uid)
    assert not session["meeting_url"]
    assert event_id(session["id"]) in google_events(stack)
    assert [m for m, _ in writes(stack)] == ["POST"]
