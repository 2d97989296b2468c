"""Google Calendar's records in the sandbox: accounts, calendars, events, channels, OAuth grants."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.sandbox.models import iso_ms

#: where the real API lives; channel resource URIs and event links are written as Google does
GOOGLE_API = "https://www.googleapis.com"
#: client-chosen event ids: base32hex lower-case, 5 to 1024 characters
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
#: fields the server sets; a client's values for them are ignored
READ_ONLY = frozenset(
    {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID"}
    | {"sequence", "status"}
)
_USAGE_LIMITS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)


class GoogleError(Exception):
    """An error answer of the Google emulation: status, `reason` and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"{status} {reason}: {message}")


def domain_of(reason: str) -> str:
    """The `domain` Google puts next to an error reason."""
    return "usageLimits" if reason in _USAGE_LIMITS else "global"


def rfc3339(value: datetime) -> str:
    """`2026-01-08T10:03:27.118Z`, as Google writes `created` and `updated`."""
    return iso_ms(value)


def event_time(value: Any) -> datetime | None:
    """An event's `start`/`end` ({dateTime[, timeZone]} or {date}) as aware UTC, else None."""
    if not isinstance(value, dict):
        return None
    try:
        if isinstance(value.get("date"), str):
            return datetime.combine(date.fromisoformat(value["date"]), time(0), UTC)
        parsed = datetime.fromisoformat(str(value.get("dateTime")))
        if parsed.tzinfo is None:
            zone = value.get("timeZone")
            if not isinstance(zone, str):
                return None
            parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return parsed.astimezone(UTC)


def check_times(data: dict[str, Any]) -> tuple[datetime, datetime]:
    """Validate an event's start and end the way events.insert/update do."""
    times = []
    for key in ("start", "end"):
        value = data.get(key)
        if not isinstance(value, dict) or not ({"date", "dateTime"} & value.keys()):
            raise GoogleError(400, "required", f"Missing {key} time.")
        parsed = event_time(value)
        if parsed is None:
            raise GoogleError(400, "invalid", f"Missing time zone definition for {key} time.")
        times.append(parsed)
    start, end = times
    all_day = "date" in data["start"]
    if all_day != ("date" in data["end"]):
        raise GoogleError(
            400, "invalid", "Start and end times must either both be date or both be dateTime."
        )
    if end < start or (all_day and end == start):
        raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")
    return start, end


def writable(body: dict[str, Any]) -> dict[str, Any]:
    """The client fields of an event body (server-set fields dropped)."""
    return {k: v for k, v in body.items() if k not in READ_ONLY}


def merge(target: dict[str, Any], patch: dict[str, Any], top: bool = True) -> dict[str, Any]:
    """Patch semantics: objects merge, arrays and scalars replace, null clears.

    `start` and `end` are replaced whole, so `{date}` never lingers next to a new `{dateTime}`.
    """
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            whole = top and key in ("start", "end")
            merged[key] = dict(value) if whole else merge(merged[key], value, top=False)
        else:
            merged[key] = value
    return merged


@dataclass
class Event:
    """One event of a calendar; `position` is where its creation sits in the change log."""

    id: str
    calendar_id: str
    owner: str
    data: dict[str, Any]
    status: str
    created: datetime
    updated: datetime
    etag: str
    position: int
    sequence: int = 0
    send_updates: str | None = None
    made_by: str = "api"

    @property
    def cancelled(self) -> bool:
        """Deleted (Google keeps deleted events as `status: cancelled`)."""
        return self.status == "cancelled"

    def to_json(self) -> dict[str, Any]:
        """The full event resource, as events.get returns it."""
        eid = base64.urlsafe_b64encode(f"{self.id} {self.calendar_id}".encode()).decode()
        attendees = self.data.get("attendees")
        body: dict[str, Any] = {"reminders": {"useDefault": True}, "eventType": "default"}
        body.update(self.data)
        if isinstance(attendees, list):
            body["attendees"] = [
                {"responseStatus": "needsAction", **a} if isinstance(a, dict) else a
                for a in attendees
            ]
        body.update(
            kind="calendar#event",
            etag=self.etag,
            id=self.id,
            status=self.status,
            htmlLink=f"https://www.google.com/calendar/event?eid={eid.rstrip('=')}",
            created=rfc3339(self.created),
            updated=rfc3339(self.updated),
            creator={"email": self.owner, "self": True},
            organizer={"email": self.calendar_id, "self": True},
            iCalUID=f"{self.id}@google.com",
            sequence=self.sequence,
        )
        return body

    def listed(self) -> dict[str, Any]:
        """The event in a list: deleted ones shrink to a tombstone (only `id` is guaranteed)."""
        if not self.cancelled:
            return self.to_json()
        return {
            "kind": "calendar#event",
            "etag": self.etag,
            "id": self.id,
            "status": "cancelled",
            "updated": rfc3339(self.updated),
        }


@dataclass
class Calendar:
    """A calendar: its events and the change log that sync tokens point into."""

    id: str
    owner: str
    summary: str
    primary: bool
    nonce: str  # changes when the control plane invalidates sync tokens
    events: dict[str, Event] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)  # event ids, one entry per change
    time_zone: str = "UTC"

    @property
    def position(self) -> int:
        """How many changes the calendar has seen."""
        return len(self.log)

    def to_json(self) -> dict[str, Any]:
        """calendars.get."""
        return {
            "kind": "calendar#calendar",
            "etag": f'"{self.position}"',
            "id": self.id,
            "summary": self.summary,
            "timeZone": self.time_zone,
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }

    def list_entry(self) -> dict[str, Any]:
        """An item of calendarList.list."""
        entry = {
            **self.to_json(),
            "kind": "calendar#calendarListEntry",
            "accessRole": "owner",
            "defaultReminders": [],
            "selected": True,
        }
        if self.primary:
            entry["primary"] = True
        return entry


@dataclass
class Channel:
    """A push channel on a calendar's events."""

    id: str
    resource_id: str
    calendar_id: str
    account: str
    address: str
    token: str | None
    expiration: datetime
    created: datetime
    params: dict[str, str] = field(default_factory=dict)
    stopped: bool = False
    message_number: int = 0

    @property
    def resource_uri(self) -> str:
        """What X-Goog-Resource-URI names: the watched events collection."""
        cal = quote(self.calendar_id, safe="@")
        return f"{GOOGLE_API}/calendar/v3/calendars/{cal}/events?alt=json"

    @property
    def expiration_ms(self) -> int:
        """Expiry in milliseconds since the epoch."""
        return int(self.expiration.timestamp() * 1000)

    def live(self, now: datetime) -> bool:
        """Not stopped and not expired."""
        return not self.stopped and now < self.expiration

    def to_json(self) -> dict[str, Any]:
        """The Channel resource events.watch answers."""
        body: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(self.expiration_ms),
        }
        if self.token is not None:
            body["token"] = self.token
        return body


@dataclass
class GoogleAccount:
    """A Google user the sandbox knows (made by consent or by the control plane)."""

    email: str
    created: datetime
