"""Pure Daily translations: webhook events to canonical (commutative) call facts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Attendance, Change
from connectors.daily import const
from connectors.errors import InvalidPayload


def from_unix(value: Any, field: str) -> datetime:
    """Unix seconds (int or float, as Daily sends them) as an aware UTC datetime."""
    if value is None or value == "":
        raise InvalidPayload(f"{field} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidPayload(f"{field} is not a Unix timestamp")
    try:
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(value)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError) as err:
        raise InvalidPayload(f"{field} is not a Unix timestamp") from err


def _seconds(value: Any, field: str) -> float:
    """A non-negative duration in seconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPayload(f"{field} is missing" if value is None else f"{field} is not a number")
    if not math.isfinite(value) or value < 0:
        raise InvalidPayload(f"{field} is not a non-negative number")
    return float(value)


def _whole(seconds: float) -> int | float:
    """Seconds as an int when whole (the usual case), else rounded to milliseconds."""
    return int(seconds) if seconds.is_integer() else round(seconds, 3)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def role(user_id: Any, owner: Any) -> str:
    """`coach`/`attendee` from the hub's meeting token, else `coach` for an owner, else `guest`."""
    if isinstance(user_id, str) and user_id in const.HUB_ROLES:
        return user_id
    return "coach" if owner is True else "guest"


def _meeting(event_type: str, p: Mapping[str, Any]) -> dict[str, Any]:
    start = from_unix(p.get("start_ts"), "payload.start_ts")
    detail: dict[str, Any] = {"meeting_id": _str(p.get("meeting_id"))}
    if event_type == const.MEETING_STARTED:
        attendance = Attendance(actual_start=start)
        return dict(event="call_started", occurred_at=start, attendance=attendance, detail=detail)
    end = from_unix(p.get("end_ts"), "payload.end_ts")
    if end < start:
        raise InvalidPayload("payload.end_ts is before payload.start_ts")
    detail["duration_seconds"] = _whole((end - start).total_seconds())
    attendance = Attendance(actual_start=start, actual_end=end)
    return dict(event="call_ended", occurred_at=end, attendance=attendance, detail=detail)


def _participant(event_type: str, p: Mapping[str, Any]) -> dict[str, Any]:
    joined = from_unix(p.get("joined_at"), "payload.joined_at")
    detail: dict[str, Any] = {
        "participant": _str(p.get("user_id")),
        "user_name": _str(p.get("user_name")),
        "owner": p.get("owner") is True,
        "session_id": _str(p.get("session_id")),  # Daily's id for this one join, not ours
        "joined_at": joined.isoformat(),
        "role": role(p.get("user_id"), p.get("owner")),
    }
    if event_type == const.PARTICIPANT_JOINED:
        return dict(event="participant_joined", occurred_at=joined, detail=detail)
    duration = _seconds(p.get("duration"), "payload.duration")
    try:
        left = joined + timedelta(seconds=duration)
    except OverflowError as err:  # a duration of 1e308 s ends after year 9999
        raise InvalidPayload("payload.duration is out of range") from err
    detail.update(duration_seconds=_whole(duration), left_at=left.isoformat())
    return dict(event="participant_left", occurred_at=left, detail=detail)


def _recording(p: Mapping[str, Any]) -> dict[str, Any]:
    # never the tracks list or any download link: only what the timeline shows
    detail = {
        "recording_id": _str(p.get("recording_id")),
        "duration": p.get("duration") if isinstance(p.get("duration"), int | float) else None,
        "status": _str(p.get("status")),
        "s3_key": _str(p.get("s3_key")),
    }
    started = from_unix(p.get("start_ts"), "payload.start_ts")
    return dict(event="recording_ready", occurred_at=started, detail=detail)


def _fields(event_type: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """The Change fields of one handled event type; occurred_at is when it happened."""
    match event_type:
        # the first participant joined / the last one left (the latter up to 20 s late)
        case const.MEETING_STARTED | const.MEETING_ENDED:
            return _meeting(event_type, p)
        # one join of one person; `session_id` changes on every rejoin, `user_id` does not
        case const.PARTICIPANT_JOINED | const.PARTICIPANT_LEFT:
            return {**_participant(event_type, p), "timeline_only": True}
        # a cloud recording can be fetched; the timeline notes it
        case _:
            return {**_recording(p), "timeline_only": True}


def to_changes(body: Mapping[str, Any]) -> tuple[Change, ...]:
    """The canonical changes a decoded Daily webhook body carries (may be none).

    Every Daily fact is commutative: attendance merges (earliest start, latest end) whatever
    order deliveries arrive in, so they bypass the hub's per-source ordering clock. Times
    come from the event (`start_ts`, `end_ts`, `joined_at`), never from `event_ts`, which is
    when Daily sent the webhook.
    """
    event_type = _str(body.get("type"))
    if event_type is None:
        raise InvalidPayload("type is missing")
    if event_type not in const.HANDLED_TYPES:
        return ()  # waiting-participant.*, streaming.*, recording.started...: ignored
    p = body.get("payload")
    if not isinstance(p, Mapping):
        raise InvalidPayload(f"{event_type}: payload is missing")
    room_key = "room_name" if event_type in const.RECORDING_TYPES else "room"
    room = _str(p.get(room_key))
    if room is None:
        raise InvalidPayload(f"{event_type}: payload.{room_key} is missing")
    fields = _fields(event_type, p)
    fields["detail"] = {k: v for k, v in fields["detail"].items() if v is not None}
    change = Change(source=const.SLUG, external_id=room, create=False, commutative=True, **fields)
    return (change,)
