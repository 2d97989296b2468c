"""Calendar API v3 around the events: calendars, calendarList, watch/stop channels, freeBusy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response

from connectors.sandbox import google_push
from connectors.sandbox.api import current, json_body
from connectors.sandbox.google_http import calendar, caller, no_content, reply, store
from connectors.sandbox.google_models import Calendar, GoogleError, event_time, rfc3339
from connectors.sandbox.models import parse_iso

blueprint = Blueprint("google_calendars", __name__)


@blueprint.get("/calendars/<calendar_id>")
def get_calendar(calendar_id: str) -> Response:
    """calendars.get (`primary` is the caller's e-mail)."""
    return reply(calendar(calendar_id).to_json())


@blueprint.get("/users/me/calendarList")
def calendar_list() -> Response:
    """calendarList.list: the caller's calendars, primary first."""
    mine = store().calendars_of(caller())
    items = [c.list_entry() for c in sorted(mine, key=lambda c: not c.primary)]
    return reply({"kind": "calendar#calendarList", "etag": '"1"', "items": items})


@blueprint.get("/users/me/calendarList/<calendar_id>")
def calendar_list_entry(calendar_id: str) -> Response:
    """calendarList.get."""
    return reply(calendar(calendar_id).list_entry())


@blueprint.post("/calendars/<calendar_id>/events/watch")
def watch(calendar_id: str) -> Response:
    """events.watch: a channel, then at once the `sync` push (possibly before this answers)."""
    cal = calendar(calendar_id)
    channel = store().channels.watch(cal.id, caller(), json_body())
    google_push.send(current(), channel, "sync")
    return reply(channel.to_json())


@blueprint.post("/channels/stop")
def stop() -> Response:
    """channels.stop {id, resourceId}: 204; 404 for a channel that is unknown or stopped."""
    body = json_body()
    store().channels.stop(caller(), body.get("id"), body.get("resourceId"))
    return no_content()


def _time(body: dict[str, Any], key: str) -> datetime:
    if body.get(key) is None:
        raise GoogleError(400, "required", f"Missing {key} parameter.")
    try:
        return parse_iso(body[key])
    except ValueError as err:
        raise GoogleError(400, "invalid", f"Invalid value for {key}.") from err


def busy(cal: Calendar, start: datetime, end: datetime) -> list[dict[str, str]]:
    """Opaque, non-cancelled events clipped to [start, end), overlapping ones merged."""
    spans = []
    with store().lock:
        for event in cal.events.values():
            if event.cancelled or event.data.get("transparency") == "transparent":
                continue
            s, e = event_time(event.data.get("start")), event_time(event.data.get("end"))
            if s is not None and e is not None and s < end and e > start:
                spans.append((max(s, start), min(e, end)))
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return [
        {"start": s.astimezone(UTC).strftime(fmt), "end": e.astimezone(UTC).strftime(fmt)}
        for s, e in merged
    ]


@blueprint.post("/freeBusy")
def free_busy() -> Response:
    """freeBusy.query {timeMin, timeMax, items: [{id}]}; unknown calendars get `notFound`."""
    body = json_body()
    start, end = _time(body, "timeMin"), _time(body, "timeMax")
    if end < start:
        raise GoogleError(400, "timeRangeEmpty", "The specified time range is empty.")
    items = body.get("items") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise GoogleError(400, "invalid", "items must be a list of {id}.")
    me = caller()
    calendars: dict[str, Any] = {}
    for item in items:
        wanted = str(item.get("id"))
        try:
            cal = store().calendar(me if wanted == "primary" else wanted)
        except GoogleError:
            calendars[wanted] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
            continue
        calendars[wanted] = {"busy": busy(cal, start, end)}
    return reply(
        {
            "kind": "calendar#freeBusy",
            "timeMin": rfc3339(start),
            "timeMax": rfc3339(end),
            "calendars": calendars,
        }
    )
