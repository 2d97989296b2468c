"""Graph records (calendars, events), their JSON and Graph's dateTimeTimeZone handling."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: a few Windows zone names Outlook clients send, besides IANA names and "UTC"
WINDOWS_ZONES = {
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Pacific Standard Time": "America/Los_Angeles",
}
EVENT_TYPE = "#microsoft.graph.event"


class OutlookError(Exception):
    """A Graph error ({"error": {"code", "message"}}) or an OAuth one (error, error_description)."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        self.status, self.code, self.message = status, code, message or code
        super().__init__(f"{status} {code}: {self.message}")


def zone(name: str | None) -> tzinfo:
    """The tzinfo of a Graph timeZone (IANA, a few Windows names, UTC); 400 when unknown."""
    if not name or name.upper() in ("UTC", "Z", "COORDINATED UNIVERSAL TIME"):
        return UTC
    try:
        return ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise OutlookError(400, "TimeZoneNotSupportedException", f"bad timeZone {name}") from err


def parse_when(value: Any, field_name: str) -> datetime:
    """A `{dateTime, timeZone}` object as an aware UTC datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise OutlookError(400, "ErrorInvalidRequest", f"{field_name} needs dateTime and timeZone")
    text = value["dateTime"].rstrip("Z")
    if "." in text:  # Graph sends 7 fractional digits
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise OutlookError(400, "ErrorInvalidRequest", f"bad {field_name}.dateTime") from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(value.get("timeZone")))
    return moment.astimezone(UTC)


def render_when(moment: datetime, tz_name: str | None) -> dict[str, str]:
    """Graph's `{dateTime: "2026-01-01T10:00:00.0000000", timeZone}` in the preferred zone."""
    local = moment.astimezone(zone(tz_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": tz_name or "UTC"}


def iso(moment: datetime) -> str:
    """Graph's UTC timestamps (`2026-01-01T10:00:00.1234567Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def new_id(prefix: str = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A") -> str:
    """An opaque, ImmutableId-looking id (URL-safe)."""
    return prefix + secrets.token_urlsafe(33) + "AAA="


@dataclass
class Calendar:
    id: str
    owner: str
    name: str
    is_default: bool
    can_edit: bool
    #: event ids in the order they changed (the delta log), and the token nonce
    log: list[str] = field(default_factory=list)
    nonce: str = field(default_factory=lambda: secrets.token_hex(4))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "isDefaultCalendar": self.is_default,
            "canEdit": self.can_edit,
            "canShare": self.can_edit,
            "owner": {"name": self.owner.split("@")[0], "address": self.owner},
            "changeKey": self.nonce,
        }


@dataclass
class Event:
    id: str
    calendar_id: str
    owner: str
    subject: str
    start: datetime
    end: datetime
    created: datetime
    modified: datetime
    change_key: str
    ical_uid: str
    body: dict[str, Any] = field(default_factory=lambda: {"contentType": "html", "content": ""})
    is_all_day: bool = False
    show_as: str = "busy"
    is_cancelled: bool = False
    transaction_id: str | None = None
    extended: dict[str, str] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=lambda: {"displayName": ""})
    attendees: list[Any] = field(default_factory=list)
    deleted: bool = False

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'

    def to_json(
        self, tz_name: str | None = None, expand: list[str] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.type": EVENT_TYPE,
            "@odata.etag": self.etag,
            "id": self.id,
            "createdDateTime": iso(self.created),
            "lastModifiedDateTime": iso(self.modified),
            "changeKey": self.change_key,
            "transactionId": self.transaction_id,
            "iCalUId": self.ical_uid,
            "subject": self.subject,
            "body": dict(self.body),
            "bodyPreview": str(self.body.get("content", ""))[:255],
            "start": render_when(self.start, tz_name),
            "end": render_when(self.end, tz_name),
            "isAllDay": self.is_all_day,
            "showAs": self.show_as,
            "isCancelled": self.is_cancelled,
            "type": "singleInstance",
            "seriesMasterId": None,
            "location": dict(self.location),
            "attendees": list(self.attendees),
            "organizer": {
                "emailAddress": {"name": self.owner.split("@")[0], "address": self.owner}
            },
        }
        if expand is not None:
            wanted = {x.lower() for x in expand}
            body["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in self.extended.items() if k.lower() in wanted
            ]
        return body

    def touch(self, now: datetime) -> None:
        """A change: new changeKey (and etag) and lastModifiedDateTime."""
        self.change_key = secrets.token_urlsafe(12)
        self.modified = now if now > self.modified else self.modified + timedelta(microseconds=1)


def removed(event_id: str) -> dict[str, Any]:
    """How delta reports a deleted (or out-of-window) event."""
    return {"@odata.type": EVENT_TYPE, "id": event_id, "@removed": {"reason": "deleted"}}
