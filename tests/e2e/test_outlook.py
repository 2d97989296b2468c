"""Outlook through Microsoft Graph, against the sandbox (HTTPS authority, its own CA)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlmodel import select

from app.calendars import unseal
from app.models import CalendarConnection, CalendarFeed
from connectors.daily.outbound import room_name
from tests.e2e.google_support import (
    COACH,
    connections,
    link_google,
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


def browser(stack: Stack) -> requests.Session:
    session = loopback_browser()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    session.verify = stack.sandbox.ca_bundle
    return session


def link_outlook(stack: Stack, coach: str) -> dict[str, Any]:
    page = link_google(stack, coach, browser=browser(stack), provider="outlook", decision="accept")
    assert page.status_code == 200, page.text[-500:]
    assert "Your calendar is linked" in page.text
    stack.settle()
    [conn] = [c for c in connections(stack, coach) if c["provider"] == "outlook"]
    return conn


def outlook() -> Any:
    from app.hub import hub  # noqa: F401  (keeps the import local to the app context users)


def graph_state(stack: Stack) -> dict[str, Any]:
    state: dict[str, Any] = stack.control("GET", "/state")["outlook"]
    return state


def graph_events(stack: Stack) -> list[dict[str, Any]]:
    return [
        {**e, "calendar_id": c["id"]} for c in graph_state(stack)["calendars"] for e in c["events"]
    ]


def ours(stack: Stack) -> list[dict[str, Any]]:
    return [e for e in graph_events(stack) if not e.get("deleted") and e.get("transactionId")]


def book(stack: Stack, start: datetime, minutes: int = 45) -> dict[str, Any]:
    reply = stack.control(
        "POST",
        "/calcom/bookings",
        start=iso(start),
        end=iso(start + timedelta(minutes=minutes)),
        location=VIDEO,
        attendee={"email": "ann@example.com", "name": "Ann"},
    )
    stack.settle()
    return {**stack.session_by("calcom", reply["booking"]["uid"]), "uid": reply["booking"]["uid"]}


def graph_writes(stack: Stack) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in stack.sandbox.state.requests_matching("outlook")
        if r.method in ("POST", "PATCH", "DELETE") and "/events" in r.path
    ]


def test_link_subscribes_and_keeps_the_token_cache_encrypted(stack: Stack) -> None:
    coach = make_coach(stack)
    conn = link_outlook(stack, coach)
    assert (conn["state"], conn["account_email"]) == ("active", COACH)
    assert conn["feeds"][0]["channel_expires_at"]
    [sub] = graph_state(stack)["subscriptions"]
    assert sub["notificationUrl"].endswith("/webhooks/outlook")
    from app.hub import hub

    with stack.app.app_context(), hub().db.session() as db:
        row = db.exec(select(CalendarConnection)).one()
        tokens = unseal(hub(), row.tokens_encrypted or "")
    assert tokens.extra.get("msal_cache")
    assert tokens.access_token not in (row.tokens_encrypted or "")
    assert "refresh_token" not in (row.tokens_encrypted or "")


def test_validation_handshake_answers_plain_text(stack: Stack) -> None:
    resp = requests.post(
        f"{stack.url}/webhooks/outlook?validationToken=a%20b%3Cc%3E",
        data="",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == "a b<c>"


def test_create_move_cancel_one_event_each_and_echo_ignored(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    session = book(stack, at(days=2))
    [event] = ours(stack)
    assert event["transactionId"] == session["id"]
    before = stack.get(f"/sessions/{session['id']}")
    stack.settle()
    assert stack.get(f"/sessions/{session['id']}")["version"] == before["version"]  # no echo
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
    ops = [m for m, _ in graph_writes(stack)]
    assert (ops.count("POST"), ops.count("DELETE")) == (1, 1)
    assert ops.count("PATCH") >= 1
    assert ours(stack) == []


def test_coach_moves_in_outlook_and_everything_follows(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    session = book(stack, at(days=2))
    [event] = ours(stack)
    new_start = at(days=5)
    stack.control(
        "PATCH",
        f"/outlook/calendars/{event['calendar_id']}/events/{event['id']}"
        if "calendar_id" in event
        else f"/outlook/calendars/x/events/{event['id']}",
        start=iso(new_start),
        end=iso(new_start + timedelta(minutes=45)),
    )
    stack.settle()
    assert stack.get(f"/sessions/{session['id']}")["start_at"] == iso(new_start)
    room = stack.sandbox.state.rooms[room_name(session["id"])]
    assert room.properties["nbf"] == int((new_start - timedelta(minutes=15)).timestamp())


def _notify(stack: Stack, items: list[dict[str, Any]]) -> requests.Response:
    return requests.post(
        f"{stack.url}/webhooks/outlook",
        data=json.dumps({"value": items}),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def _feed(stack: Stack) -> CalendarFeed:
    from app.hub import hub

    with stack.app.app_context(), hub().db.session() as db:
        return db.exec(select(CalendarFeed)).one()


def test_a_wrong_client_state_rejects_only_that_item(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    feed = _feed(stack)
    from app.hub import hub

    with stack.app.app_context():
        secret = hub().crypto.decrypt(feed.channel_token_encrypted or "")
    item = {
        "subscriptionId": feed.channel_id,
        "changeType": "updated",
        "resource": "me/events/x",
        "clientState": secret,
    }
    resp = _notify(stack, [item, {**item, "clientState": "forged"}, item])
    assert resp.status_code == 202
    assert (resp.json()["items"], resp.json()["rejected"]) == (2, 1)
    assert _notify(stack, [{**item, "clientState": "forged"}]).status_code == 401


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_events(stack: Stack, event: str) -> None:
    link_outlook(stack, make_coach(stack))
    before = _feed(stack)
    stack.sandbox.state.requests.clear()
    stack.control(
        "POST", f"/outlook/subscriptions/{before.channel_id}/lifecycle", lifecycleEvent=event
    )
    stack.settle()
    after = _feed(stack)
    paths = [(r.method, r.path) for r in stack.sandbox.state.requests_matching("outlook")]
    if event == "reauthorizationRequired":
        assert ("POST", f"/v1.0/subscriptions/{before.channel_id}/reauthorize") in paths or any(
            p.endswith("/reauthorize") for _, p in paths
        )
        assert after.channel_id == before.channel_id
    elif event == "subscriptionRemoved":
        assert after.channel_id != before.channel_id
        assert any(m == "POST" and p.endswith("/subscriptions") for m, p in paths)
    else:  # notifications may have been lost: caught up by reading the whole change feed
        assert any("/delta" in p for _, p in paths)
    assert after.cursor


def test_refresh_race_refreshes_once(stack: Stack) -> None:
    conn = link_outlook(stack, make_coach(stack))
    from tests.e2e.test_google import _expire_locally

    with stack.app.app_context():
        _expire_locally(uuid.UUID(conn["id"]))
    before = next(a["refresh_count"] for a in graph_state(stack)["accounts"] if a["email"] == COACH)
    errors = refresh_concurrently(stack, conn["id"])
    assert errors == []
    after = next(a["refresh_count"] for a in graph_state(stack)["accounts"] if a["email"] == COACH)
    assert after == before + 1


def test_burst_is_batched_within_four_concurrent_requests(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    for day in range(1, 11):
        start = at(days=day)
        stack.control(
            "POST",
            "/calcom/bookings",
            start=iso(start),
            end=iso(start + timedelta(minutes=45)),
            location="attendeeInPerson",
            attendee={"email": f"c{day}@example.com", "name": f"C{day}"},
        )
    stack.settle()
    assert len(ours(stack)) == 10
    assert any(r.path.endswith("/$batch") for r in stack.sandbox.state.requests_matching("outlook"))
    assert max(graph_state(stack)["max_concurrency"].values()) <= 4


def test_google_and_outlook_together_without_an_echo_loop(stack: Stack) -> None:
    from connectors.google.mapping import event_id
    from tests.e2e.google_support import google_events

    coach = make_coach(stack)
    link_google(stack, coach)
    stack.settle()
    link_outlook(stack, coach)
    session = book(stack, at(days=2))
    assert len(ours(stack)) == 1
    assert google_events(stack)[event_id(session["id"])]["status"] != "cancelled"
    moved_g = at(days=4)
    stack.control(
        "PATCH",
        f"/google/calendars/{COACH}/events/{event_id(session['id'])}",
        start=iso(moved_g),
        end=iso(moved_g + timedelta(minutes=45)),
    )
    stack.settle()
    [event] = ours(stack)
    assert event["start"]["dateTime"].startswith(iso(moved_g)[:16])
    moved_o = at(days=6)
    stack.control(
        "PATCH",
        f"/outlook/calendars/{event.get('calendar_id', 'x')}/events/{event['id']}",
        start=iso(moved_o),
        end=iso(moved_o + timedelta(minutes=45)),
    )
    stack.settle()
    s = stack.get(f"/sessions/{session['id']}")
    assert s["start_at"] == iso(moved_o)
    google = google_events(stack)[event_id(session["id"])]
    assert google["start"]["dateTime"].startswith(iso(moved_o)[:16]) or google["start"][
        "dateTime"
    ].startswith(moved_o.isoformat()[:16])
    room = stack.sandbox.state.rooms[room_name(session["id"])]
    assert room.properties["nbf"] == int((moved_o - timedelta(minutes=15)).timestamp())
    live = [
        b for b in stack.control("GET", "/state")["calcom"]["bookings"] if b["status"] == "accepted"
    ]
    assert [b["start"][:16] for b in live] == [iso(moved_o)[:16]]
    versions = s["version"]
    stack.settle()
    assert stack.get(f"/sessions/{session['id']}")["version"] == versions  # settled: no loop


def test_coach_deletes_in_outlook_flagged_by_default(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    session = book(stack, at(days=2))
    [event] = ours(stack)
    stack.control("DELETE", f"/outlook/calendars/{event['calendar_id']}/events/{event['id']}")
    stack.settle()
    flagged = stack.get(f"/sessions/{session['id']}")
    assert (flagged["status"], flagged["needs_review"]) == ("confirmed", True)
    kinds = [e["kind"] for e in stack.get(f"/sessions/{session['id']}/events")["items"]]
    assert "deleted_in_calendar" in kinds


def test_a_429_storm_converges_without_duplicates(stack: Stack) -> None:
    link_outlook(stack, make_coach(stack))
    stack.sandbox.faults.fail_fraction("outlook", 429, 0.5, 3.0, retry_after=0, seed=11)
    sessions = [book(stack, at(days=day)) for day in (1, 2, 3)]
    for _ in range(8):
        stack.settle()
        if len(ours(stack)) == 3:
            break
        with stack.app.app_context():
            from jobs.sweeps import requeue_pending_links

            requeue_pending_links()
    assert sorted(e["transactionId"] for e in ours(stack)) == sorted(s["id"] for s in sessions)
