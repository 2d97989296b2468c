"""Pure translations: session → Google event body, Google event → CalendarEvent, event ids."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import SessionView
from connectors.calendar import CalendarEvent
from connectors.errors import InvalidPayload
from connectors.google import const

_TRUE = frozenset({"1", "true", "yes", "on"})


def event_id(session_id: str) -> str:
    """The session's Google event id: lower-case base32hex of its 16 UUID bytes, unpadded.

    Google accepts client-chosen ids of 5-1024 characters from `a-v0-9` (calendar.v3.json,
    Event.id), so a retried insert finds the event it already made: 26 characters.
    """
    raw = uuid.UUID(session_id).bytes
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def flag(value: Any) -> bool:
    """A boolean option that may arrive as a bool or as text (`true`, `1`, ...)."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def rfc3339(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC with an explicit offset."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _description(session: SessionView) -> str:
    lines = []
    if session.meeting_url:
        lines += [f"Join: {session.meeting_url}", ""]
    lines.append("Scheduled with SessionHub; changes made here may be overwritten.")
    return "\n".join(lines)


def _when(value: datetime, timezone: str) -> dict[str, str]:
    when = {"dateTime": rfc3339(value)}
    if timezone:
        when["timeZone"] = timezone
    return when


def event_body(session: SessionView, options: Mapping[str, Any]) -> dict[str, Any]:
    """The event the hub keeps for a session (without its id); usable for insert and patch.

    Every field the hub owns is always present, so a patch also clears what the session
    dropped (an empty location); attendees are left alone unless the hub invites.
    """
    who = session.attendee_name or session.attendee_email
    body: dict[str, Any] = {
        "summary": session.title or f"Session with {who}",
        "description": _description(session),
        "start": _when(session.start_at, session.timezone),
        "end": _when(session.end_at, session.timezone),
        "location": session.location or "",
        "extendedProperties": {
            "private": {const.SESSION_KEY: session.id, const.VERSION_KEY: str(session.version)}
        },
        "reminders": {"useDefault": True},
    }
    if flag(options.get("invite_attendee")) and session.attendee_email:
        attendee = {"email": session.attendee_email}
        if session.attendee_name:
            attendee["displayName"] = session.attendee_name
        body["attendees"] = [attendee]
    return body


def parse_time(value: str, zone: str | None = None) -> datetime:
    """An RFC 3339 timestamp as aware UTC (a value without offset is read in `zone`, or UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as err:
        raise InvalidPayload(f"not an RFC 3339 time: {str(value)[:40]!r}") from err
    if parsed.tzinfo is None:
        try:
            tz: Any = ZoneInfo(zone) if isinstance(zone, str) and zone else UTC
        # ValueError: a malformed key like "../x"; OSError: a key longer than a file name may be
        except (ZoneInfoNotFoundError, ValueError, OSError):
            tz = UTC
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as err:  # 0001-01-01T00:00:00+01:00 is before the first UTC datetime
        raise InvalidPayload(f"time out of range: {str(value)[:40]!r}") from err


def _edge(value: Any) -> tuple[datetime | None, bool]:
    """An event's start or end: (aware UTC time, whether it is an all-day date)."""
    if not isinstance(value, Mapping):
        return None, False
    if isinstance(value.get("dateTime"), str):
        return parse_time(value["dateTime"], value.get("timeZone")), False
    if isinstance(value.get("date"), str):
        try:
            day = date.fromisoformat(value["date"])
        except ValueError as err:
            raise InvalidPayload(f"not a date: {value['date'][:40]!r}") from err
        return datetime(day.year, day.month, day.day, tzinfo=UTC), True
    return None, False


def _declined(item: Mapping[str, Any]) -> bool:
    """Whether the account's own attendee entry (`self: true`) declined."""
    attendees = item.get("attendees")
    if not isinstance(attendees, list):
        return False
    return any(
        isinstance(a, Mapping) and a.get("self") is True and a.get("responseStatus") == "declined"
        for a in attendees
    )


def _version(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None


def to_calendar_event(calendar_id: str, item: Mapping[str, Any]) -> CalendarEvent:
    """One events.list item; cancelled ones may carry nothing but `id` and `status`."""
    ident = item.get("id")
    if not isinstance(ident, str) or not ident:
        raise InvalidPayload("event without an id")
    cancelled = item.get("status") == "cancelled"
    start, all_day = _edge(item.get("start"))
    end, _ = _edge(item.get("end"))
    props = item.get("extendedProperties")
    private = props.get("private") if isinstance(props, Mapping) else None
    private = private if isinstance(private, Mapping) else {}
    session_id = private.get(const.SESSION_KEY)
    updated = item.get("updated")
    etag, title = item.get("etag"), item.get("summary")
    return CalendarEvent(
        id=ident,
        calendar_id=calendar_id,
        cancelled=cancelled,
        start_at=start,
        end_at=end,
        all_day=all_day,
        busy=not cancelled and item.get("transparency") != "transparent" and not _declined(item),
        etag=etag if isinstance(etag, str) else None,
        updated=parse_time(updated) if isinstance(updated, str) else None,
        title=title if isinstance(title, str) else None,
        session_id=session_id if isinstance(session_id, str) and session_id else None,
        hub_version=_version(private.get(const.VERSION_KEY)),
    )
