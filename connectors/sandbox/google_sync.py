"""events.list: full listing with filters, incremental sync from a change-log position, paging.

A sync token is `[calendar nonce, log position]`; the nonce changes when the control plane
invalidates the calendar's tokens, which makes every older token answer 410 fullSyncRequired.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from connectors.sandbox.google_models import Calendar, Event, GoogleError, event_time, rfc3339
from connectors.sandbox.models import parse_iso

#: params Google refuses next to a syncToken
FORBIDDEN_WITH_SYNC = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
DEFAULT_MAX_RESULTS = 250
MAX_RESULTS = 2500
_GONE = "Sync token is no longer valid, a full sync is required."


def _encode(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        return None


def sync_token(calendar: Calendar, position: int | None = None) -> str:
    """A token for `position` (default: now) in the calendar's change log."""
    return _encode([calendar.nonce, calendar.position if position is None else position])


def _since(calendar: Calendar, token: str) -> int:
    """The log position a sync token stands for; 410 when it no longer holds."""
    decoded = _decode(token)
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[1], int)):
        raise GoogleError(400, "invalid", "Invalid sync token value.")
    nonce, position = str(decoded[0]), int(decoded[1])
    if nonce != calendar.nonce or not 0 <= position <= calendar.position:
        raise GoogleError(410, "fullSyncRequired", _GONE)
    return position


def _time_arg(args: MultiDict[str, str], name: str) -> datetime | None:
    if not args.get(name):
        return None
    try:
        return parse_iso(args[name])
    except ValueError as err:
        raise GoogleError(400, "badRequest", f"Bad Request: invalid {name}") from err


def _max_results(args: MultiDict[str, str]) -> int:
    try:
        value = int(args.get("maxResults", DEFAULT_MAX_RESULTS))
    except ValueError as err:
        raise GoogleError(400, "invalid", "Invalid value for maxResults") from err
    if value < 1:
        raise GoogleError(400, "invalid", "Invalid value for maxResults")
    return min(value, MAX_RESULTS)


def _properties(args: MultiDict[str, str], name: str) -> list[tuple[str, str]]:
    pairs = []
    for item in args.getlist(name):
        key, sep, value = item.partition("=")
        if not sep:
            raise GoogleError(400, "invalid", f"Invalid {name} value {item!r}")
        pairs.append((key, value))
    return pairs


def _text(event: Event) -> str:
    data = event.data
    people = " ".join(
        str(a.get("email", "")) for a in data.get("attendees") or [] if isinstance(a, dict)
    )
    fields = (data.get("summary"), data.get("description"), data.get("location"), people)
    return " ".join(str(f) for f in fields if f).lower()


def _has(event: Event, kind: str, pairs: Iterable[tuple[str, str]]) -> bool:
    props = (event.data.get("extendedProperties") or {}).get(kind) or {}
    return all(isinstance(props, dict) and props.get(k) == v for k, v in pairs)


def _selected(events: Iterable[Event], args: MultiDict[str, str]) -> list[Event]:
    """Full-listing filters (timeMin/timeMax/updatedMin/q/iCalUID/extended properties)."""
    tmin, tmax = _time_arg(args, "timeMin"), _time_arg(args, "timeMax")
    updated_min = _time_arg(args, "updatedMin")
    show_deleted = args.get("showDeleted") == "true" or updated_min is not None
    private = _properties(args, "privateExtendedProperty")
    shared = _properties(args, "sharedExtendedProperty")
    query, uid = (args.get("q") or "").lower(), args.get("iCalUID")
    found = []
    for event in events:
        start, end = event_time(event.data.get("start")), event_time(event.data.get("end"))
        if (event.cancelled and not show_deleted) or (uid and f"{event.id}@google.com" != uid):
            continue
        if (tmin and end and end <= tmin) or (tmax and start and start >= tmax):
            continue
        if updated_min and event.updated < updated_min:
            continue
        if query and query not in _text(event):
            continue
        if _has(event, "private", private) and _has(event, "shared", shared):
            found.append(event)
    return found


def _ordered(events: list[Event], args: MultiDict[str, str]) -> list[Event]:
    order = args.get("orderBy")
    if order == "startTime":
        if args.get("singleEvents") != "true":
            raise GoogleError(
                400,
                "badRequest",
                "The requested ordering is not available for the particular query.",
            )
        return sorted(events, key=lambda e: (event_time(e.data.get("start")) or e.created, e.id))
    if order == "updated":
        return sorted(events, key=lambda e: (e.updated, e.id))
    if order is not None:
        raise GoogleError(400, "invalid", f"Invalid value for orderBy: {order}")
    return sorted(events, key=lambda e: e.position)


def _changed(calendar: Calendar, since: int, upto: int) -> list[Event]:
    """Every event with a change in (since, upto], once, in order of its first such change."""
    seen = dict.fromkeys(calendar.log[since:upto])
    return [calendar.events[event_id] for event_id in seen]


def list_events(calendar: Calendar, args: MultiDict[str, str]) -> dict[str, Any]:
    """The events.list answer (the caller holds the state lock)."""
    size = _max_results(args)
    token = args.get("syncToken")
    mode = "sync" if token else "full"
    page: dict[str, Any] = {}
    if args.get("pageToken"):
        decoded = _decode(args["pageToken"])
        if not isinstance(decoded, dict) or decoded.get("m") != mode:
            raise GoogleError(400, "invalid", "Invalid page token value.")
        page = decoded
    upto, since = int(page.get("u", calendar.position)), 0
    if token:
        given = [p for p in FORBIDDEN_WITH_SYNC if p in args]
        if given:
            raise GoogleError(400, "invalid", f"syncToken cannot be combined with {given[0]}.")
        since = int(page.get("s", _since(calendar, token)))
        if page and page.get("n") != calendar.nonce:
            raise GoogleError(410, "fullSyncRequired", _GONE)
        found = _changed(calendar, since, upto)
    else:
        born = (e for e in calendar.events.values() if e.position < upto)
        found = _ordered(_selected(born, args), args)
    offset = int(page.get("o", 0))
    chunk = found[offset : offset + size]
    latest = max((e.updated for e in calendar.events.values()), default=None)
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"{upto}"',
        "summary": calendar.summary,
        "description": "",
        "updated": rfc3339(latest) if latest else "1970-01-01T00:00:00.000Z",
        "timeZone": calendar.time_zone,
        "accessRole": "owner",
        "defaultReminders": [],
        "items": [e.listed() for e in chunk],
    }
    if offset + size < len(found):
        nxt = {"m": mode, "n": calendar.nonce, "u": upto, "o": offset + size}
        if token:
            nxt["s"] = since
        body["nextPageToken"] = _encode(nxt)
    else:
        body["nextSyncToken"] = sync_token(calendar, upto)
    return body
