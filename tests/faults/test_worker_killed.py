"""A worker SIGKILLed in the middle of a reconcile job, at the worst moment: Daily has created
the room but its answer has not reached the hub, so the link records nothing. The job must run
again (the pending-links sweep re-enqueues it) and Daily must hold exactly one room."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.faults.conftest import FaultHub, Private, hard_limit, provider_env, running_hub
from tests.procs import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

VIDEO = "integrations:office365_video"  # a video location without a join URL: the hub makes a room
#: how long Daily holds its answer back after creating the room (the window for the kill)
LATE_ANSWER = 8


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_worker_killed_mid_reconcile_reruns_and_leaves_one_room(
    private: Private, tmp_path: Path
) -> None:
    with hard_limit(150), running_hub(private, tmp_path, **provider_env(private.sandbox)) as hub:
        play(hub)


def session_of(hub: FaultHub, uid: str) -> dict[str, object] | None:
    resp = hub.api("GET", "/sessions", params={"provider": "calcom", "external_id": uid})
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    return items[0] if items else None


def play(hub: FaultHub) -> None:
    # Daily acts on room creation at once but answers late: the kill lands in between
    hub.control(
        "POST",
        "/chaos",
        error_rate=0,
        seconds=60,
        delay_s=LATE_ANSWER,
        provider="daily",
        method="POST",
        path="/rooms",
    )
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    reply = hub.control(
        "POST",
        "/calcom/bookings",
        start=iso(start),
        end=iso(start + timedelta(minutes=45)),
        location=VIDEO,
        attendee={"email": "ann@example.com", "name": "Ann", "timeZone": "Europe/Paris"},
    )
    uid = reply["booking"]["uid"]
    assert all(d["status_code"] and d["status_code"] < 300 for d in reply["deliveries"]), reply
    session = wait_for("the session", lambda: session_of(hub, uid), timeout=60)
    room = f"hub-{uuid.UUID(str(session['id'])).hex}"
    wait_for("Daily to create the room", lambda: room in hub.rooms(), timeout=60)
    victim = hub.worker_running("reconcile:daily")
    assert victim is not None, "no worker is in the middle of the Daily reconcile"
    # SIGKILL to the worker's process group: the worker running the job (it does not fork)
    status, killed = hub.procs.kill(victim)
    assert status == -9
    assert killed >= 1
    hub.control("DELETE", "/chaos")
    # the room exists, the hub does not know: the link is still pending
    [link] = [ln for ln in (session_of(hub, uid) or {})["links"] if ln["provider"] == "daily"]  # type: ignore[union-attr]
    assert (link["state"], link["external_id"]) == ("pending", None), link

    def synced() -> dict[str, object] | None:
        found = session_of(hub, uid)
        links = [ln for ln in (found or {}).get("links", []) if ln["provider"] == "daily"]  # type: ignore[union-attr]
        return found if links and links[0]["state"] == "synced" else None

    done = wait_for("the re-run of the killed job", synced, timeout=90)
    hub.start_worker(victim)  # the supervisor brings the killed worker back
    creations = [
        r
        for r in hub.control("GET", "/requests", provider="daily", method="POST")["requests"]
        if r["path"] == "/rooms"
    ]
    rooms = [r for r in hub.rooms() if r == room]
    [daily] = [ln for ln in done["links"] if ln["provider"] == "daily"]  # type: ignore[union-attr]
    sessions = hub.api("GET", "/sessions", params={"limit": 50}).json()["items"]
    figures = {
        "worker killed": victim,
        "processes killed": killed,
        "room creations sent": len(creations),
        "room creation answers": [r["status"] for r in creations],
        "rooms for the session": len(rooms),
        "all rooms": len(hub.rooms()),
        "link": [daily["state"], daily["external_id"]],
        "sessions": [
            [
                item["id"],
                item["source"],
                [[ln["provider"], ln["external_id"]] for ln in item["links"]],
            ]
            for item in sessions
        ],
    }
    print("\nWORKER SIGKILL FIGURES:", json.dumps(figures))  # noqa: T201 - the closing figures
    assert rooms == [room]  # one room for the session: no duplicate provider object
    # and Daily holds no room without a session (an orphan of the killed job): one per session
    assert sorted(hub.rooms()) == sorted(f"hub-{uuid.UUID(str(x['id'])).hex}" for x in sessions)
    assert len(creations) >= 2  # the job really ran again after the kill
    assert daily["external_id"] == room
    assert str(done["meeting_url"]).endswith(room)
