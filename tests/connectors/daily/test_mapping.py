"""Daily events (recorded webhook fixtures) to canonical, commutative call facts."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Attendance, Change
from connectors.daily.mapping import from_unix, role, to_changes
from connectors.errors import InvalidPayload

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = sorted(p.stem for p in FIXTURES.glob("*.*.json"))
ROOM = "hub-session-4f2a9c"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def one(body: dict[str, Any]) -> Change:
    changes = to_changes(body)
    assert len(changes) == 1
    return changes[0]


def utc(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 1, 1, hour, minute, second, tzinfo=UTC)


def with_payload(name: str, **payload: Any) -> dict[str, Any]:
    body = copy.deepcopy(load(name))
    for key, value in payload.items():
        if value is None:
            body["payload"].pop(key, None)
        else:
            body["payload"][key] = value
    return body


# --- every fixture ------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_is_a_commutative_fact_about_the_room(name: str) -> None:
    change = one(load(name))
    assert change.source == "daily"
    assert change.external_id == ROOM
    assert change.create is False
    assert change.commutative is True
    assert change.occurred_at.tzinfo is UTC
    # event_ts is when Daily sent the webhook, never when the thing happened
    assert change.occurred_at != datetime.fromtimestamp(load(name)["event_ts"], UTC)


def test_meeting_started() -> None:
    change = one(load("meeting.started"))
    assert change.event == "call_started"
    assert change.occurred_at == utc(10)  # start_ts, not event_ts (10:00:01.512)
    assert change.attendance == Attendance(actual_start=utc(10))
    assert change.timeline_only is False
    assert change.detail == {"meeting_id": "5f0c8a2e-1b7d-4c55-9a8e-2f1d3c4b5a69"}
    assert change.status is None


def test_meeting_ended() -> None:
    change = one(load("meeting.ended"))
    assert change.event == "call_ended"
    assert change.occurred_at == utc(10, 45)  # end_ts, not event_ts (10:45:21.044)
    assert change.attendance == Attendance(actual_start=utc(10), actual_end=utc(10, 45))
    assert change.timeline_only is False
    assert change.detail == {
        "meeting_id": "5f0c8a2e-1b7d-4c55-9a8e-2f1d3c4b5a69",
        "duration_seconds": 2700,
    }


def test_participant_joined() -> None:
    change = one(load("participant.joined"))
    assert change.event == "participant_joined"
    assert change.occurred_at == utc(10)  # joined_at, not event_ts (10:00:00.871)
    assert change.timeline_only is True
    assert change.attendance is None
    assert change.detail == {
        "participant": "hub-user-42",
        "user_name": "Guest User",
        "owner": False,
        "session_id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "joined_at": "2026-01-01T10:00:00+00:00",
        "role": "guest",
    }


def test_participant_left_happens_at_join_plus_duration() -> None:
    change = one(load("participant.left"))
    assert change.event == "participant_left"
    assert change.occurred_at == utc(10, 45)  # joined_at + 2700 s, not event_ts
    assert change.timeline_only is True
    assert change.detail == {
        "participant": "hub-user-42",
        "user_name": "Guest User",
        "owner": False,
        "session_id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "joined_at": "2026-01-01T10:00:00+00:00",
        "role": "guest",
        "duration_seconds": 2700,
        "left_at": "2026-01-01T10:45:00+00:00",
    }


def test_recording_ready_names_the_room_by_room_name() -> None:
    change = one(load("recording.ready-to-download"))
    assert change.event == "recording_ready"
    assert change.external_id == ROOM
    assert change.occurred_at == utc(10, 0, 20)  # the recording's start_ts
    assert change.timeline_only is True
    assert change.detail == {
        "recording_id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
        "duration": 2650,
        "status": "finished",
        "s3_key": "yourdomain/hub-session-4f2a9c/1767261620000",
    }


def test_recording_detail_keeps_no_tracks_or_links() -> None:
    tracks = [{"id": "t1", "s3Key": "k", "download_link": "https://x.test/?sig=secret"}]
    change = one(with_payload("recording.ready-to-download", tracks=tracks, share_token="s3cr3t"))
    assert set(change.detail) == {"recording_id", "duration", "status", "s3_key"}


# --- times and roles ----------------------------------------------------------------------


def test_fractional_seconds_are_kept() -> None:
    change = one(with_payload("participant.left", joined_at=1767261600.25, duration=10.5))
    assert change.occurred_at == datetime(2026, 1, 1, 10, 0, 10, 750000, tzinfo=UTC)
    assert change.detail["duration_seconds"] == 10.5
    assert change.detail["joined_at"] == "2026-01-01T10:00:00.250000+00:00"


def test_meeting_ended_with_float_times() -> None:
    change = one(with_payload("meeting.ended", start_ts=1767261600.5, end_ts=1767261660.75))
    assert change.attendance is not None
    assert change.attendance.actual_start == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert change.detail["duration_seconds"] == 60.25


@pytest.mark.parametrize(
    ("user_id", "owner", "expected"),
    [
        ("coach", False, "coach"),
        ("attendee", True, "attendee"),
        ("hub-user-42", True, "coach"),
        ("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", False, "guest"),
        (None, None, "guest"),
        ("Coach", "true", "guest"),
    ],
)
def test_role(user_id: Any, owner: Any, expected: str) -> None:
    assert role(user_id, owner) == expected


def test_coach_token_join() -> None:
    change = one(with_payload("participant.joined", user_id="coach", owner=True))
    assert change.detail["role"] == "coach"
    assert change.detail["participant"] == "coach"
    assert change.detail["owner"] is True


def test_from_unix() -> None:
    assert from_unix(1767261600, "t") == utc(10)
    assert from_unix("1767261600", "t") == utc(10)
    with pytest.raises(InvalidPayload, match="t is missing"):
        from_unix(None, "t")
    for bad in (True, "soon", float("nan"), float("inf"), 1e20, [1]):
        with pytest.raises(InvalidPayload, match="t is not a Unix timestamp"):
            from_unix(bad, "t")


# --- ignored and invalid ------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    [
        "waiting-participant.joined",
        "waiting-participant.left",
        "recording.started",
        "recording.error",
        "streaming.started",
        "batch-processor.job-finished",
    ],
)
def test_other_types_are_ignored(event_type: str) -> None:
    assert to_changes({"type": event_type, "id": "x", "payload": {"room": ROOM}}) == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"id": "x"}, "type is missing"),
        ({"type": "", "payload": {}}, "type is missing"),
        ({"type": "meeting.started"}, "meeting.started: payload is missing"),
        ({"type": "meeting.started", "payload": [1]}, "payload is missing"),
        (with_payload("meeting.started", room=None), r"meeting.started: payload\.room is missing"),
        (with_payload("meeting.started", room=""), r"payload\.room is missing"),
        (with_payload("meeting.started", start_ts=None), r"payload\.start_ts is missing"),
        (with_payload("meeting.started", start_ts="noon"), r"payload\.start_ts is not a Unix"),
        (with_payload("meeting.ended", end_ts=None), r"payload\.end_ts is missing"),
        (with_payload("meeting.ended", end_ts=1767261599), "end_ts is before"),
        (with_payload("participant.joined", joined_at=None), r"payload\.joined_at is missing"),
        (with_payload("participant.left", duration=None), r"payload\.duration is missing"),
        (with_payload("participant.left", duration="45m"), r"payload\.duration is not a number"),
        (with_payload("participant.left", duration=-1), "not a non-negative number"),
        (
            with_payload("recording.ready-to-download", room_name=None),
            r"payload\.room_name is missing",
        ),
        (with_payload("recording.ready-to-download", start_ts=None), r"payload\.start_ts"),
    ],
)
def test_invalid_payloads_name_the_field(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        to_changes(body)


def test_meeting_id_is_optional() -> None:
    change = one(with_payload("meeting.started", meeting_id=None))
    assert change.detail == {}
