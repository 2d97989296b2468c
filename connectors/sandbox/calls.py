"""Simulated Daily calls: a meeting record plus the webhook events Daily would send for it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from typing import Any

from connectors.sandbox.api import ApiError
from connectors.sandbox.models import Meeting, Participant, Room
from connectors.sandbox.state import SandboxState

_PREFIX = {
    "meeting.started": "met-sta",
    "meeting.ended": "met-end",
    "participant.joined": "ptcpt-join",
    "participant.left": "ptcpt-left",
}
_RANK = {"meeting.started": 0, "participant.joined": 1, "participant.left": 2, "meeting.ended": 3}
_CAN_SEND = ["video", "audio", "screenVideo", "screenAudio"]

Timed = tuple[int, str, dict[str, Any]]  # (event time, type, payload)


def event(state: SandboxState, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A Daily webhook body: version, type, unique id, payload, event_ts (send time, seconds)."""
    return {
        "version": "1.0.0",
        "type": kind,
        "id": f"{_PREFIX.get(kind, 'evt')}-{uuid.uuid4()}",
        "payload": dict(payload),
        "event_ts": round(state.now().timestamp(), 3),
    }


def _whole(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ApiError(400, f"{name} must be a non-negative number")
    return int(value)


def _participant_payload(room: Room, p: Participant, left: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {"joined_at": p.join_time}
    if left:
        payload["duration"] = p.duration
    payload.update(
        {
            "session_id": p.participant_id,
            "room": room.name,
            "user_id": p.user_id,
            "user_name": p.user_name,
            "owner": p.owner,
            "will_eject_at": int(room.properties.get("exp") or 0),
            "permissions": {
                "has_presence": True,
                "can_send": list(_CAN_SEND),
                "can_admin": ["participants"] if p.owner else [],
            },
        }
    )
    return payload


def _people(spec: Any, base: int) -> list[Participant]:
    if not isinstance(spec, list) or not spec or not all(isinstance(p, dict) for p in spec):
        raise ApiError(400, "participants must be a non-empty list of objects")
    people = []
    for raw in spec:
        session = str(uuid.uuid4())
        people.append(
            Participant(
                user_id=str(raw.get("user_id") or session),
                participant_id=session,
                user_name=str(raw.get("user_name") or ""),
                join_time=base + _whole(raw.get("join_after_s"), "join_after_s", 0),
                duration=_whole(raw.get("stay_s"), "stay_s", 1800),
                owner=bool(raw.get("is_owner", False)),
            )
        )
    return people


def _arrange(
    state: SandboxState, timeline: list[Timed], spec: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Events in time order, or shuffled (seeded) and/or each sent twice."""
    timeline.sort(key=lambda t: (t[0], _RANK[t[1]]))
    events = [event(state, kind, payload) for _, kind, payload in timeline]
    if spec.get("duplicate"):
        events = [e for e in events for _ in range(2)]
    if spec.get("shuffle"):
        random.Random(spec.get("seed")).shuffle(events)  # noqa: S311 - test data, not crypto
    return events


def _ending(room: Room, meeting: Meeting) -> list[Timed]:
    timeline: list[Timed] = [
        (p.join_time + p.duration, "participant.left", _participant_payload(room, p, True))
        for p in meeting.participants
    ]
    end = max(p.join_time + p.duration for p in meeting.participants)
    payload = {"start_ts": meeting.start_time, "end_ts": end, "meeting_id": meeting.id}
    timeline.append((end, "meeting.ended", {**payload, "room": room.name}))
    return timeline


def start_call(
    state: SandboxState, room_name: str, spec: Mapping[str, Any]
) -> tuple[Meeting, list[dict[str, Any]]]:
    """Record a meeting in the room and build its events (`"end": false` leaves it ongoing)."""
    with state.lock:
        room = state.rooms.get(room_name)
        if room is None:
            raise ApiError(404, f"room {room_name} was not found")
        fallback = int(room.properties.get("nbf") or state.now().timestamp())
        base = _whole(spec.get("start_ts"), "start_ts", fallback)
        people = _people(spec.get("participants"), base)
        start = min(p.join_time for p in people)
        end = max(p.join_time + p.duration for p in people)
        ends = spec.get("end", True) is not False
        meeting = Meeting(str(uuid.uuid4()), room.name, start, end - start, not ends, people)
        state.meetings.append(meeting)
        started = {"start_ts": start, "meeting_id": meeting.id, "room": room.name}
        timeline: list[Timed] = [(start, "meeting.started", started)]
        timeline += [
            (p.join_time, "participant.joined", _participant_payload(room, p, False))
            for p in people
        ]
        if ends:
            timeline += _ending(room, meeting)
        return meeting, _arrange(state, timeline, spec)


def end_call(
    state: SandboxState, meeting_id: str, spec: Mapping[str, Any]
) -> tuple[Meeting, list[dict[str, Any]]]:
    """Finish an ongoing meeting: participant.left for everyone, then meeting.ended."""
    with state.lock:
        meeting = next((m for m in state.meetings if m.id == meeting_id), None)
        if meeting is None:
            raise ApiError(404, f"meeting {meeting_id} was not found")
        if not meeting.ongoing:
            raise ApiError(409, f"meeting {meeting_id} has already ended")
        room = state.rooms.get(meeting.room) or Room("", meeting.room, "public", {}, state.now())
        meeting.ongoing = False
        return meeting, _arrange(state, _ending(room, meeting), spec)
