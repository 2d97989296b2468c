"""Pure translations: session → Graph event body, Graph event → CalendarEvent, tags, ids."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import SessionView
from connectors.calendar import CalendarEvent
from connectors.errors import InvalidPayload
from connectors.outlook import const

_TRUE = frozenset({"1", "true", "yes", "on"})
#: zone names Graph uses for UTC (we always ask for UTC with `Prefer: outlook.timezone`)
_UTC_NAMES = frozenset({"utc", "etc/utc", "coordinated universal time", "gmt", "z"})
#: showAs values that do not block time
_FREE = frozenset({"free", "workingElsewhere"})


def transaction_id(session_id: str) -> str:
    """The create's transactionId: the session id, so a retried POST returns the same event."""
    return str(session_id)


def tag(session: SessionView) -> str:
    """The value of the hub's extended property: `<session id>:<version>`."""
    return f"{session.id}:{session.version}"


def flag(value: Any) -> bool:
    """A boolean option that may arrive as a bool or as text (`true`, `1`, ...)."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def zone(name: Any) -> ZoneInfo | None:
    """The IANA zone of a name, UTC for Graph's UTC spellings, None when unknown."""
    if name is None or name == "":
        return ZoneInfo("UTC")
    if not isinstance(name, str):  # a number or a list where a zone name belongs
        return None
    if name.strip().lower() in _UTC_NAMES:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    # ValueError: a malformed key like "../x"; OSError: a key longer than a file name may be
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_time(value: datetime, timezone: str) -> dict[str, str]:
    """A dateTimeTimeZone: wall-clock time in `timezone` (ISO, no offset) and the zone name."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    tz = zone(timezone)
    if tz is None:  # an unknown zone name is not sent to Graph: the time goes in UTC
        tz, timezone = ZoneInfo("UTC"), "UTC"
    local = value.astimezone(tz).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": timezone or "UTC"}


def _content(session: SessionView) -> str:
    parts = []
    if session.meeting_url:
        url = html.escape(session.meeting_url, quote=True)
        parts.append(f'<p>Join: <a href="{url}">{url}</a></p>')
    parts.append("<p>Scheduled with SessionHub; changes made here may be overwritten.</p>")
    return "".join(parts)


def event_body(
    session: SessionView, options: Mapping[str, Any], *, create: bool = False
) -> dict[str, Any]:
    """The event the hub keeps for a session; with `create`, also its transactionId.

    Every field the hub owns is present, so a PATCH also clears what the session dropped;
    attendees are sent only when the hub invites (sending them mails invitations).
    """
    who = session.attendee_name or session.attendee_email
    body: dict[str, Any] = {
        "subject": session.title or f"Session with {who}",
        "body": {"contentType": "HTML", "content": _content(session)},
        "start": local_time(session.start_at, session.timezone),
        "end": local_time(session.end_at, session.timezone),
        "location": {"displayName": session.location or ""},
        "allowNewTimeProposals": False,
        "singleValueExtendedProperties": [{"id": const.PROPERTY_ID, "value": tag(session)}],
    }
    if flag(options.get("invite_attendee")) and session.attendee_email:
        address = {"address": session.attendee_email}
        if session.attendee_name:
            address["name"] = session.attendee_name
        body["attendees"] = [{"emailAddress": address, "type": "required"}]
    if create:
        body["transactionId"] = transaction_id(session.id)
    return body


def parse_time(value: Any, zone_name: Any = None) -> datetime:
    """A Graph timestamp as aware UTC (a value without offset is read in `zone_name`)."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidPayload(f"not an ISO time: {str(value)[:40]!r}") from err
    if parsed.tzinfo is None:
        tz = zone(zone_name)
        if tz is None:
            # Windows zone names only come back without `Prefer: outlook.timezone="UTC"`,
            # which every call sends; guessing would move the event
            raise InvalidPayload(f"unknown time zone {str(zone_name)[:40]!r}")
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as err:  # 0001-01-01T00:00:00+01:00 is before the first UTC datetime
        raise InvalidPayload(f"time out of range: {str(value)[:40]!r}") from err


def _edge(value: Any) -> datetime | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("dateTime"), str):
        return None
    return parse_time(value["dateTime"], value.get("timeZone"))


def version_of(item: Mapping[str, Any]) -> str | None:
    """The event's version marker: changeKey, or the bare value of its @odata.etag."""
    key = item.get("changeKey")
    if isinstance(key, str) and key:
        return key
    etag = item.get("@odata.etag")
    if not isinstance(etag, str) or not etag:
        return None
    bare = etag.removeprefix("W/").strip('"')  # W/"<changeKey>"
    return bare or None


def tags_of(item: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """(session id, hub version) from the hub's extended property, when it was expanded."""
    props = item.get("singleValueExtendedProperties")
    if not isinstance(props, list):
        return None, None
    for prop in props:
        if not isinstance(prop, Mapping) or not isinstance(prop.get("value"), str):
            continue
        if str(prop.get("id", "")).lower() != const.PROPERTY_ID.lower():
            continue
        session, _, version = str(prop["value"]).rpartition(":")
        if not session:
            return None, None
        # ASCII digits only ("²".isdigit() is true, int("²") fails), few enough for int()
        number = version.isascii() and version.isdigit() and len(version) <= 18
        return session, int(version) if number else None
    return None, None


def _free(show_as: Any) -> bool:
    return isinstance(show_as, str) and show_as in _FREE


def _declined(item: Mapping[str, Any]) -> bool:
    status = item.get("responseStatus")
    return isinstance(status, Mapping) and status.get("response") == "declined"


def to_calendar_event(calendar_id: str, item: Mapping[str, Any]) -> CalendarEvent:
    """One delta/list item; `@removed` items carry nothing but `id` and are cancelled."""
    ident = item.get("id")
    if not isinstance(ident, str) or not ident:
        raise InvalidPayload("event without an id")
    if "@removed" in item:
        return CalendarEvent(id=ident, calendar_id=calendar_id, cancelled=True, busy=False)
    cancelled = item.get("isCancelled") is True
    updated, title = item.get("lastModifiedDateTime"), item.get("subject")
    session_id, hub_version = tags_of(item)
    return CalendarEvent(
        id=ident,
        calendar_id=calendar_id,
        cancelled=cancelled,
        start_at=_edge(item.get("start")),
        end_at=_edge(item.get("end")),
        all_day=item.get("isAllDay") is True,
        busy=not cancelled and not _free(item.get("showAs")) and not _declined(item),
        etag=version_of(item),
        updated=parse_time(updated) if isinstance(updated, str) and updated else None,
        title=title if isinstance(title, str) else None,
        session_id=session_id,
        hub_version=hub_version,
    )
