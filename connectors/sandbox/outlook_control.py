"""`/_sandbox/outlook`: the coach acting in Outlook, and the emulation's knobs.

Hub-shaped errors (`{"error", "message"}`). Event changes notify subscriptions like API writes
(`"deliver": false` loses the notifications).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from connectors.sandbox.api import ApiError, current, json_body, json_response
from connectors.sandbox.outlook_models import Event, OutlookError, parse_when
from connectors.sandbox.outlook_notify import changed, flush, lifecycle
from connectors.sandbox.outlook_store import OutlookStore

PREFIX = "/_sandbox/outlook"
blueprint = Blueprint("outlook_control", __name__)


def _store() -> OutlookStore:
    return current().state.outlook


@blueprint.errorhandler(OutlookError)
def _error(err: OutlookError) -> Response:
    return json_response({"error": err.code, "message": err.message}, err.status)


@blueprint.get("")
def dump() -> Response:
    """The `outlook` section of /_sandbox/state."""
    return json_response(_store().dump())


def _email(body: dict[str, Any]) -> str:
    email = body.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ApiError(400, "email is required")
    return email


@blueprint.post("/accounts")
def add_account() -> Response:
    account, made = _store().ensure_account(_email(json_body()))
    calendars = [c.to_json() for c in _store().calendars.of(account.email)]
    return json_response({**account.to_json(), "calendars": calendars}, 201 if made else 200)


@blueprint.post("/accounts/<email>/revoke-grant")
def revoke(email: str) -> Response:
    """Refreshes answer invalid_grant (AADSTS70000); access tokens die unless kept."""
    keep = bool(json_body().get("keep_access_tokens", False))
    _store().revoke(email, keep_access_tokens=keep)
    return json_response(_store().account(email).to_json())


@blueprint.post("/accounts/<email>/interaction-required")
def interaction(email: str) -> Response:
    """`{"on": true}` (default): refreshes answer interaction_required until a new consent."""
    account = _store().account(email)
    with current().state.lock:
        account.interaction_required = bool(json_body().get("on", True))
    return json_response(account.to_json())


@blueprint.post("/accounts/<email>/expire-tokens")
def expire(email: str) -> Response:
    _store().account(email)
    return json_response({"expired": _store().expire_tokens(email)})


def _event_body(body: dict[str, Any]) -> dict[str, Any]:
    """Control-plane shorthand (ISO strings) to Graph's event JSON."""
    out = {k: v for k, v in body.items() if k != "deliver"}
    for key in ("start", "end"):
        if isinstance(out.get(key), str):
            out[key] = {"dateTime": out[key], "timeZone": "UTC"}
    return out


@blueprint.post("/calendars/<calendar_id>/events")
def create_event(calendar_id: str) -> Response:
    """`{subject, start, end, showAs?, isAllDay?, body?, transactionId?, deliver?}`."""
    body = json_body()
    calendar = _store().calendars.calendar(None, calendar_id)
    event, _ = _store().calendars.create(calendar, _event_body(body))
    changed(current(), event, "created", deliver=body.get("deliver", True) is not False)
    return json_response(event.to_json(expand=list(event.extended)), 201)


def _event(calendar_id: str, event_id: str) -> Event:
    event = _store().calendars.event(None, event_id)
    if event.calendar_id != calendar_id:
        raise ApiError(404, f"no event {event_id} in {calendar_id}")
    return event


@blueprint.patch("/calendars/<calendar_id>/events/<event_id>")
def move_event(calendar_id: str, event_id: str) -> Response:
    """`{start?, end?, subject?, …}`; a new start alone keeps the length."""
    body = json_body()
    event = _event(calendar_id, event_id)
    update = _event_body(body)
    if "start" in update and "end" not in update:
        moved = parse_when(update["start"], "start") + (event.end - event.start)
        update["end"] = {"dateTime": moved.isoformat(), "timeZone": "UTC"}
    _store().calendars.update(event, update)
    changed(current(), event, "updated", deliver=body.get("deliver", True) is not False)
    return json_response(event.to_json(expand=list(event.extended)))


@blueprint.delete("/calendars/<calendar_id>/events/<event_id>")
def delete_event(calendar_id: str, event_id: str) -> Response:
    body = json_body()
    event = _event(calendar_id, event_id)
    _store().calendars.delete(event)
    changed(current(), event, "deleted", deliver=body.get("deliver", True) is not False)
    return json_response({"deleted": event_id})


@blueprint.post("/calendars/<calendar_id>/invalidate-delta-tokens")
def invalidate(calendar_id: str) -> Response:
    """Older delta (and skip) tokens of the calendar answer 410 SyncStateNotFound."""
    calendar = _store().calendars.calendar(None, calendar_id)
    _store().calendars.invalidate(calendar)
    return json_response({"invalidated": calendar_id})


@blueprint.post("/subscriptions/<sub_id>/lifecycle")
def send_lifecycle(sub_id: str) -> Response:
    """`{lifecycleEvent: reauthorizationRequired|subscriptionRemoved|missed, deliver?}`."""
    body = json_body()
    sub = _store().subscriptions.get(None, sub_id)
    sent = lifecycle(
        current(),
        sub,
        str(body.get("lifecycleEvent") or ""),
        deliver=body.get("deliver", True) is not False,
    )
    return json_response(sent.to_json())


@blueprint.post("/subscriptions/<sub_id>/expire")
def expire_subscription(sub_id: str) -> Response:
    sub = _store().subscriptions.get(None, sub_id)
    with current().state.lock:
        sub.expiration = _store().clock()
    return json_response({"expired": sub_id})


@blueprint.post("/settings")
def settings() -> Response:
    """`{latency_s?, batch_notifications?}`: Graph call latency; hold notifications for flush."""
    body = json_body()
    outlook = _store()
    with current().state.lock:
        if "latency_s" in body:
            value = body["latency_s"]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ApiError(400, "latency_s must be a number >= 0")
            outlook.latency_s = float(value)
        if "batch_notifications" in body:
            outlook.batch_notifications = bool(body["batch_notifications"])
    return json_response(outlook.dump()["settings"])


@blueprint.post("/notifications/flush")
def flush_notifications() -> Response:
    """Send held notifications: one POST per notificationUrl with every pending item."""
    sent = flush(current())
    return json_response({"sent": [d.to_json() for d in sent]})
