"""`calendarView/delta`: windowed change feed with `$skiptoken` pages and a `$deltatoken` end.

A delta token is a position in the calendar's change log plus the calendar's nonce and the
window; `invalidate` changes the nonce, so older tokens answer 410 `SyncStateNotFound`
(Graph documents `syncStateNotFound` / `resyncRequired`; the sandbox uses the former's
PascalCase spelling). A page's items are fixed when the round starts (kept server-side under
the skip token). Incremental rounds return each changed event once, in order of its first
change; deleted events, and events that moved out of the window, come as `@removed`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from connectors.sandbox.outlook_http import base_url, graph_json, me, page_size, prefer_tz, store
from connectors.sandbox.outlook_models import Calendar, OutlookError, removed

blueprint = Blueprint("outlook_delta", __name__)
GONE = "The sync state generation is not found. Restart the sync from the beginning."


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as err:
        raise OutlookError(400, "BadRequest", "Invalid $deltatoken") from err
    if not isinstance(data, dict):
        raise OutlookError(400, "BadRequest", "Invalid $deltatoken")
    return data


def _when(name: str) -> datetime:
    value = request.args.get(name)
    if not value:
        raise OutlookError(400, "ErrorInvalidParameter", f"{name} is required")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise OutlookError(400, "ErrorInvalidParameter", f"bad {name}") from err
    if moment.tzinfo is None:
        raise OutlookError(400, "ErrorInvalidParameter", f"{name} needs an offset or Z")
    return moment


def _live(calendar: Calendar, nonce: Any) -> None:
    if nonce != calendar.nonce:
        raise OutlookError(410, "SyncStateNotFound", GONE)


def _link(calendar: Calendar, key: str, token: str) -> str:
    return f"{base_url()}/me/calendars/{quote(calendar.id)}/calendarView/delta?{key}={token}"


def _start_round(calendar: Calendar) -> dict[str, Any]:
    """A new round: the items of a full or incremental sync and where the log stood."""
    cals = store().calendars
    tz = prefer_tz()
    delta = request.args.get("$deltatoken")
    with store().lock:
        upto = len(calendar.log)
        if delta is None:
            start, end = _when("startDateTime"), _when("endDateTime")
            items = [e.to_json(tz) for e in cals.window(calendar, start, end)]
        else:
            data = _decode(delta)
            _live(calendar, data.get("n"))
            start = datetime.fromisoformat(str(data["a"]))
            end = datetime.fromisoformat(str(data["b"]))
            items = []
            for event in cals.changes(calendar, int(data["p"]), upto):
                inside = not event.deleted and event.start < end and event.end > start
                items.append(event.to_json(tz) if inside else removed(event.id))
    return {
        "n": calendar.nonce,
        "p": upto,
        "a": start.isoformat(),
        "b": end.isoformat(),
        "items": items,
    }


def _delta(calendar: Calendar) -> Response:
    skip = request.args.get("$skiptoken")
    outlook = store()
    with outlook.lock:
        if skip is not None:
            cursor = outlook.cursors.get(skip)
            if cursor is None or cursor.get("c") != calendar.id:
                raise OutlookError(410, "SyncStateNotFound", GONE)
            _live(calendar, cursor["n"])
        else:
            cursor = {"c": calendar.id, **_start_round(calendar)}
        size = page_size()
        items, rest = cursor["items"][:size], cursor["items"][size:]
        body: dict[str, Any] = {
            "@odata.context": f"{base_url()}/$metadata#Collection(event)",
            "value": items,
        }
        if skip is not None:
            del outlook.cursors[skip]
        if rest:
            key = secrets.token_urlsafe(16)
            outlook.cursors[key] = {**cursor, "items": rest}
            body["@odata.nextLink"] = _link(calendar, "$skiptoken", key)
        else:
            token = _encode({k: cursor[k] for k in ("n", "p", "a", "b")})
            body["@odata.deltaLink"] = _link(calendar, "$deltatoken", token)
    return graph_json(body)


@blueprint.get("/me/calendarView/delta")
@blueprint.get("/me/calendar/calendarView/delta")
def default_delta() -> Response:
    return _delta(store().calendars.calendar(me().email, "calendar"))


@blueprint.get("/me/calendars/<calendar_id>/calendarView/delta")
def calendar_delta(calendar_id: str) -> Response:
    return _delta(store().calendars.calendar(me().email, calendar_id))
