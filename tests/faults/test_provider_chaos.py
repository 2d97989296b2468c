"""The sandbox in chaos for a minute — half of every provider call answered 500/502/503/429 —
while 200 sessions change (booked in the hub, then some rescheduled and some cancelled). The
hub writes each to Daily (a room) and to the coach's Google Calendar (an event). After
chaos ends, every link must converge to `synced` and every provider object must match the
canonical session, with no duplicate provider object anywhere."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.daily.outbound import join_window, room_name
from connectors.google.mapping import event_id
from tests.e2e.google_support import link_google
from tests.faults.conftest import FaultHub, Private, hard_limit, provider_env, running_hub

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

#: the issue asks for 200 sessions and a minute; FAULTS_DEBUG_* shrink both for local debugging
SESSIONS = int(os.environ.get("FAULTS_DEBUG_SESSIONS", "200"))
RESCHEDULED = range(0, SESSIONS, 3)  # every third session moves by half an hour
CANCELLED = range(1, SESSIONS, 5)  # every fifth (offset) session is cancelled
CHAOS = {
    "error_rate": 0.5,
    "statuses": [500, 502, 503, 429],
    "retry_after": 1,
    "seconds": int(os.environ.get("FAULTS_DEBUG_CHAOS_SECONDS", "60")),
    "seed": 7,
}
COACH = "coach@sandbox.test"
#: after chaos: how long convergence may take at most, and how long it may stand still
CONVERGE_LIMIT, STALL_LIMIT = 240.0, 45.0


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class Browser:
    """What tests.e2e.google_support needs of a stack: the API session and the hub's URL."""

    def __init__(self, hub: FaultHub) -> None:
        self.api, self.url = hub.http, hub.url


def test_provider_chaos_converges_without_duplicates(private: Private, tmp_path: Path) -> None:
    env = provider_env(private.sandbox)
    with hard_limit(420), running_hub(private, tmp_path, workers=3, **env) as hub:
        play(hub)


def setup_coach(hub: FaultHub) -> str:
    made = hub.api(
        "POST",
        "/coaches",
        json={"email": COACH, "name": "Chaos Coach", "timezone": "UTC"},
    )
    assert made.status_code == 201, made.text
    coach: str = made.json()["id"]
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = hub.api(
        "PUT",
        f"/coaches/{coach}/availability",
        json={
            "timezone": "UTC",
            "rules": [{"weekday": d, "start": "00:00", "end": "00:00"} for d in days],
        },
    )
    assert hours.status_code == 200, hours.text
    page = link_google(Browser(hub), coach, COACH)  # type: ignore[arg-type]
    assert page.status_code == 200, page.text
    return coach


def play(hub: FaultHub) -> None:
    coach = setup_coach(hub)
    base = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    started = hub.control("POST", "/chaos", **CHAOS)
    assert started["active"]
    chaos_began = time.monotonic()

    ids: list[str] = []
    changes: Counter[str] = Counter()
    with requests.Session() as http:
        http.headers.update(hub.http.headers)
        pace = CHAOS["seconds"] * 0.75 / (SESSIONS + len(RESCHEDULED) + len(CANCELLED))
        for i in range(SESSIONS):
            start = base + timedelta(hours=i)
            made = http.post(
                f"{hub.url}/api/sessions",
                json={
                    "coach_id": coach,
                    "attendee": {
                        "email": f"client{i % 20}@example.com",
                        "name": f"Client {i % 20}",
                    },
                    "kind": "video",
                    "start_at": start.isoformat(),
                    "duration_minutes": 30,
                    "timezone": "UTC",
                    "title": f"Coaching {i}",
                },
                timeout=30,
            )
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
            changes["booked"] += 1
            time.sleep(pace)
            # change earlier sessions while the later ones are still being booked
            j = i - 20
            if j >= 0 and j in RESCHEDULED:
                moved = base + timedelta(hours=j, minutes=30)
                resp = http.patch(
                    f"{hub.url}/api/sessions/{ids[j]}",
                    json={"start_at": moved.isoformat(), "duration_minutes": 30},
                    timeout=30,
                )
                assert resp.status_code == 200, resp.text
                changes["rescheduled"] += 1
                time.sleep(pace)
            if j >= 0 and j in CANCELLED:
                resp = http.post(
                    f"{hub.url}/api/sessions/{ids[j]}/cancel",
                    json={"reason": "chaos test"},
                    timeout=30,
                )
                assert resp.status_code == 200, resp.text
                changes["cancelled"] += 1
                time.sleep(pace)
        for j in range(max(0, SESSIONS - 20), SESSIONS):
            if j in RESCHEDULED:
                moved = base + timedelta(hours=j, minutes=30)
                resp = http.patch(
                    f"{hub.url}/api/sessions/{ids[j]}",
                    json={"start_at": moved.isoformat(), "duration_minutes": 30},
                    timeout=30,
                )
                assert resp.status_code == 200, resp.text
                changes["rescheduled"] += 1
            if j in CANCELLED:
                resp = http.post(
                    f"{hub.url}/api/sessions/{ids[j]}/cancel",
                    json={"reason": "chaos test"},
                    timeout=30,
                )
                assert resp.status_code == 200, resp.text
                changes["cancelled"] += 1
    changes_done = time.monotonic() - chaos_began
    # the minute of chaos runs to its end
    time.sleep(max(0.0, CHAOS["seconds"] - (time.monotonic() - chaos_began)))  # type: ignore[operator]
    chaos = hub.control("GET", "/chaos")["chaos"]
    assert not chaos["active"]

    recovered = time.monotonic()
    converge(hub, ids)
    converged_in = time.monotonic() - recovered
    report = check(hub, ids)
    figures = {
        "sessions": SESSIONS,
        "changes": dict(changes),
        "changes made within (s)": round(changes_done, 1),
        "provider calls in chaos": chaos["calls"],
        "failed by chaos": chaos["failed"],
        "failed by status": chaos["failed_by_status"],
        "converged after chaos (s)": round(converged_in, 1),
        **report["figures"],
    }
    print("\nPROVIDER CHAOS FIGURES:", json.dumps(figures))  # noqa: T201 - the closing figures
    assert chaos["failed"] >= chaos["calls"] * 0.4, chaos  # the chaos was real
    assert report["mismatches"] == [], report["mismatches"][:20]
    assert report["duplicates"] == [], report["duplicates"][:20]


def link_states(hub: FaultHub) -> Counter[str]:
    return Counter(
        state
        for (state,) in hub.sql(
            "SELECT l.state FROM provider_links l JOIN sessions s ON s.id = l.session_id"
            " WHERE l.active AND coalesce(l.data->>'managed', 'true') <> 'false'"
            " AND l.provider IN ('daily', 'google')"
            " AND NOT (l.state = 'synced' AND l.synced_version >= s.version)"
        )
    )


def converge(hub: FaultHub, ids: list[str]) -> None:
    """Wait until no managed link is behind its session (bounded; fails when it stalls)."""
    deadline = time.monotonic() + CONVERGE_LIMIT
    best, best_at = None, time.monotonic()
    while time.monotonic() < deadline:
        behind = sum(link_states(hub).values())
        [(missing,)] = hub.sql(
            "SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM provider_links l"
            " WHERE l.session_id = s.id AND l.provider = 'google')"
        )
        if behind == 0 and missing == 0:
            return
        if best is None or behind < best:
            best, best_at = behind, time.monotonic()
        elif time.monotonic() - best_at > STALL_LIMIT:
            break
        time.sleep(1)
    detail = hub.sql(
        "SELECT provider, state, left(coalesce(last_error, ''), 120), count(*)"
        " FROM provider_links GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 20"
    )
    failed = hub.api("GET", "/jobs/failed").json()
    behind = hub.sql(
        "SELECT l.session_id, l.provider, l.state, l.active, l.synced_version, s.version,"
        " l.external_id, l.updated_at, left(coalesce(l.last_error, ''), 80)"
        " FROM provider_links l JOIN sessions s ON s.id = l.session_id"
        " WHERE l.active AND coalesce(l.data->>'managed', 'true') <> 'false'"
        " AND NOT (l.state = 'synced' AND l.synced_version >= s.version) LIMIT 12"
    )
    story = hub.sql(
        "SELECT e.kind, e.source, e.version, e.applied, e.at, left(e.data::text, 300)"
        " FROM session_events e WHERE e.session_id = %s ORDER BY e.id",
        behind[0][0] if behind else None,
    )
    links = hub.sql(
        "SELECT provider, state, active, synced_version, external_id, updated_at, data::text"
        " FROM provider_links WHERE session_id = %s ORDER BY updated_at",
        behind[0][0] if behind else None,
    )
    pytest.fail(
        f"links did not converge: {link_states(hub)} {detail} failed jobs: {failed}\n"
        + "\n".join(map(str, behind))
        + "\nfirst one's timeline:\n"
        + "\n".join(map(str, story))
        + "\nits links:\n"
        + "\n".join(map(str, links))
    )


def check(hub: FaultHub, ids: list[str]) -> dict[str, Any]:
    """Compare every provider object with its canonical session; find duplicates."""
    sessions = {
        str(sid): (status, start, end, title)
        for sid, status, start, end, title in hub.sql(
            "SELECT id, status, start_at, end_at, title FROM sessions"
        )
    }
    assert set(sessions) == set(ids)
    state = hub.control("GET", "/state")
    mismatches: list[str] = []
    duplicates: list[str] = []

    # Daily: one room per live session, named after it, opening and closing with it
    rooms = Counter(r["name"] for r in state["daily"]["rooms"])
    config = {r["name"]: r.get("config") or {} for r in state["daily"]["rooms"]}
    duplicates += [f"daily room {n} x{c}" for n, c in rooms.items() if c > 1]
    ours = {room_name(sid): sid for sid in sessions}
    duplicates += [f"daily room {n} belongs to no session" for n in rooms if n not in ours]
    for sid, (status, start, end, _title) in sessions.items():
        name = room_name(sid)
        if status == "cancelled":
            if name in rooms:
                mismatches.append(f"{sid}: cancelled but its Daily room is there")
            continue
        if name not in rooms:
            mismatches.append(f"{sid}: no Daily room")
            continue
        opens, closes = join_window(start, end)
        if (config[name].get("nbf"), config[name].get("exp")) != (
            int(opens.timestamp()),
            int(closes.timestamp()),
        ):
            mismatches.append(f"{sid}: Daily room window {config[name]} != {opens}..{closes}")

    # Google: one event per session (its id is derived from the session), same times and title
    [calendar] = [c for c in state["google"]["calendars"] if c["id"] == COACH]
    events = Counter(e["id"] for e in calendar["events"])
    duplicates += [f"google event {e} x{c}" for e, c in events.items() if c > 1]
    by_id = {e["id"]: e for e in calendar["events"]}
    google_ids = {event_id(sid): sid for sid in sessions}
    duplicates += [
        f"google event {e} belongs to no session"
        for e, ev in by_id.items()
        if e not in google_ids and ev.get("status") != "cancelled"
    ]
    for sid, (status, start, end, title) in sessions.items():
        event = by_id.get(event_id(sid))
        if status == "cancelled":
            if event is not None and event.get("status") != "cancelled":
                mismatches.append(f"{sid}: cancelled but its Google event is {event['status']}")
            continue
        if event is None or event.get("status") == "cancelled":
            mismatches.append(f"{sid}: no live Google event")
            continue
        got = (parse(event["start"]["dateTime"]), parse(event["end"]["dateTime"]), event["summary"])
        if got != (start, end, title):
            mismatches.append(f"{sid}: Google event {got} != {(start, end, title)}")

    cancelled = sum(1 for s in sessions.values() if s[0] == "cancelled")
    links = Counter(
        p
        for (p,) in hub.sql("SELECT provider FROM provider_links WHERE active AND state = 'synced'")
    )
    return {
        "mismatches": mismatches,
        "duplicates": duplicates,
        "figures": {
            "cancelled sessions": cancelled,
            "synced links": dict(links),
            "daily rooms": sum(rooms.values()),
            "google events live": sum(
                1 for e in calendar["events"] if e.get("status") != "cancelled"
            ),
            "mismatches": len(mismatches),
            "duplicate provider objects": len(duplicates),
        },
    }
