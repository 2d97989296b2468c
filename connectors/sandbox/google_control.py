"""`/_sandbox/google`: the coach acting in Google, and the knobs tests turn.

Event changes push `exists` to the calendar's live channels, like the hub's own writes do;
`"deliver": false` stores the change but loses its pushes.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response

from connectors.sandbox import control, google_push
from connectors.sandbox.api import ApiError, current, json_body, json_response
from connectors.sandbox.google_http import changed, store
from connectors.sandbox.google_models import Event, GoogleError, event_time
from connectors.sandbox.models import iso_s, parse_iso

PREFIX = "/_sandbox/google"
blueprint = Blueprint("google_control", __name__)


@blueprint.errorhandler(GoogleError)
def _google_error(err: GoogleError) -> Response:
    return control.render(ApiError(err.status, err.message, err.reason))


def _deliver(body: dict[str, Any]) -> bool:
    return body.get("deliver", True) is not False


def _when(value: Any, key: str, all_day: bool) -> dict[str, str]:
    """A control-plane time (ISO datetime with offset, or a date for all-day) as start/end."""
    try:
        if all_day:
            text = str(value)
            day = date.fromisoformat(text[:10]) if len(text) >= 10 else date.fromisoformat(text)
            return {"date": day.isoformat()}
        return {"dateTime": iso_s(parse_iso(value)), "timeZone": "UTC"}
    except ValueError as err:
        kind = "a date" if all_day else "an ISO 8601 datetime with an offset"
        raise ApiError(400, f"{key} must be {kind}") from err


def _shifted(value: dict[str, str], by: timedelta) -> dict[str, str]:
    moved = event_time(value)
    assert moved is not None  # noqa: S101 - stored events have valid times
    if "date" in value:
        return {"date": (moved + by).date().isoformat()}
    return {"dateTime": iso_s(moved + by), "timeZone": "UTC"}


def _reply(event: Event, deliveries: list[Any], status: int = 200) -> Response:
    return json_response({"event": event.to_json(), "deliveries": deliveries}, status)


@blueprint.get("")
def dump() -> Response:
    """GET /_sandbox/google: accounts, calendars with events, channels, refresh counts."""
    return json_response(store().dump())


@blueprint.post("/accounts")
def create_account() -> Response:
    """POST {email}: the account with its primary calendar (id = e-mail) and "Family"."""
    email = json_body().get("email")
    if not isinstance(email, str):
        raise ApiError(400, "email is required")
    account, created = store().ensure_account(email)
    calendars = [c.list_entry() for c in store().calendars_of(account.email)]
    body = {"email": account.email, "created": created, "calendars": calendars}
    return json_response(body, 201 if created else 200)


@blueprint.post("/accounts/<email>/revoke-grant")
def revoke_grant(email: str) -> Response:
    """Refreshing answers invalid_grant from now on (access tokens die too, unless kept)."""
    keep = json_body().get("keep_access_tokens") is True
    account = store().account(email)
    return json_response({"revoked": store().oauth.revoke_account(account.email, keep_access=keep)})


@blueprint.post("/accounts/<email>/expire-tokens")
def expire_tokens(email: str) -> Response:
    """Every access token of the account expires now: the API answers 401 until a refresh."""
    account = store().account(email)
    return json_response({"expired": store().oauth.expire_tokens(account.email)})


@blueprint.post("/calendars/<calendar_id>/events")
def coach_creates(calendar_id: str) -> Response:
    """POST {summary, start, end?, all_day?, transparency?, description?, location?, id?}."""
    body = json_body()
    cal = store().calendar(calendar_id)
    all_day = body.get("all_day") is True
    start = _when(body.get("start"), "start", all_day)
    if body.get("end") is not None:
        end = _when(body["end"], "end", all_day)
    else:
        end = _shifted(start, timedelta(days=1) if all_day else timedelta(hours=1))
    data: dict[str, Any] = {"summary": body.get("summary", "Busy"), "start": start, "end": end}
    for key in ("id", "transparency", "description", "location"):
        if body.get(key) is not None:
            data[key] = body[key]
    event = store().insert(cal, data, made_by="coach")
    return _reply(event, changed(cal, deliver=_deliver(body)), 201)


@blueprint.post("/calendars/<calendar_id>/events/bulk")
def coach_creates_many(calendar_id: str) -> Response:
    """POST {count, start, every_minutes?, minutes?, push?}: `count` one-off events made by the
    coach, `every_minutes` apart from `start` (benchmarks fill large calendars with it); one
    `exists` push to the live channels afterwards when `push` is true (default: none)."""
    body = json_body()
    count, every, minutes = (
        body.get("count"),
        body.get("every_minutes", 60),
        body.get("minutes", 30),
    )
    for key, value, high in (("count", count, 200_000), ("every_minutes", every, 100_000)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
            raise ApiError(400, f"{key} must be an integer from 1 to {high}")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 1440:
        raise ApiError(400, "minutes must be an integer from 1 to 1440")
    assert isinstance(count, int)  # noqa: S101 - checked above
    cal = store().calendar(calendar_id)
    first = event_time(_when(body.get("start"), "start", False))
    assert first is not None  # noqa: S101 - _when checked it
    for i in range(count):
        at = first + timedelta(minutes=every * i)
        data = {
            "summary": f"Busy {i}",
            "start": {"dateTime": iso_s(at), "timeZone": "UTC"},
            "end": {"dateTime": iso_s(at + timedelta(minutes=minutes)), "timeZone": "UTC"},
        }
        store().insert(cal, data, made_by="coach")
    deliveries = changed(cal) if body.get("push") is True else []
    return json_response({"inserted": count, "deliveries": deliveries}, 201)


@blueprint.patch("/calendars/<calendar_id>/events/<event_id>")
def coach_edits(calendar_id: str, event_id: str) -> Response:
    """PATCH {start?, end?, summary?, ...}: a new start alone keeps the event's length."""
    body = json_body()
    cal = store().calendar(calendar_id)
    event = store().event(cal, event_id)
    all_day = "date" in event.data.get("start", {})
    fields = ("summary", "description", "location", "transparency")
    patch: dict[str, Any] = {k: body[k] for k in fields if k in body}
    if body.get("start") is not None:
        patch["start"] = _when(body["start"], "start", all_day)
        old, new = event_time(event.data.get("start")), event_time(patch["start"])
        if body.get("end") is None and old is not None and new is not None:
            patch["end"] = _shifted(event.data["end"], new - old)
    if body.get("end") is not None:
        patch["end"] = _when(body["end"], "end", all_day)
    event = store().update(cal, event_id, patch)
    return _reply(event, changed(cal, deliver=_deliver(body)))


@blueprint.delete("/calendars/<calendar_id>/events/<event_id>")
def coach_deletes(calendar_id: str, event_id: str) -> Response:
    """The coach deletes the event (it stays as `status: cancelled`)."""
    body = json_body()
    cal = store().calendar(calendar_id)
    event = store().delete(cal, event_id)
    return _reply(event, changed(cal, deliver=_deliver(body)))


@blueprint.post("/calendars/<calendar_id>/invalidate-sync-tokens")
def invalidate(calendar_id: str) -> Response:
    """Every older sync token of the calendar answers 410 fullSyncRequired."""
    cal = store().calendar(calendar_id)
    store().invalidate_sync_tokens(cal)
    return json_response({"calendarId": cal.id, "invalidated": True})


@blueprint.post("/channels/<channel_id>/push")
def push(channel_id: str) -> Response:
    """POST {state: sync|exists|not_exists}: one hand-made notification on the channel."""
    body = json_body()
    state = body.get("state", "exists")
    if state not in google_push.STATES:
        raise ApiError(400, f"state must be one of {', '.join(google_push.STATES)}")
    channel = store().channels.get(channel_id)
    if channel is None:
        raise ApiError(404, f"no channel {channel_id}")
    delivery = google_push.send(current(), channel, state, deliver=_deliver(body))
    return json_response({"deliveries": [delivery.to_json()]}, 201)


@blueprint.post("/channels/<channel_id>/expire")
def expire_channel(channel_id: str) -> Response:
    """The channel expires now: it gets no more pushes (the hub must have renewed it)."""
    with store().lock:
        channel = store().channels.get(channel_id)
        if channel is None:
            raise ApiError(404, f"no channel {channel_id}")
        channel.expiration = min(channel.expiration, store().clock())
        return json_response(channel.to_json())
