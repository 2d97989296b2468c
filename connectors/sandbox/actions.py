"""Control-plane actions that make the sandbox act like a user and send the provider's webhooks.

Every action takes `"deliver": false` to store the change but lose its webhook (as if the
provider never delivered it), which is what the hub's catch-up sweeps must recover from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from connectors.sandbox import bookings, calls
from connectors.sandbox.api import ApiError, current, json_body, json_response
from connectors.sandbox.calcom_payloads import api_booking
from connectors.sandbox.models import Delivery, parse_iso

blueprint = Blueprint("actions", __name__)


def _time(body: dict[str, Any], key: str) -> datetime:
    try:
        return parse_iso(body.get(key))
    except ValueError as err:
        raise ApiError(400, f"{key} must be an ISO 8601 datetime with an offset") from err


def _maybe_time(body: dict[str, Any], key: str) -> datetime | None:
    return None if body.get(key) is None else _time(body, key)


def _int(body: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(body.get(key) or default)
    except (TypeError, ValueError) as err:
        raise ApiError(400, f"{key} must be a number") from err


def _deliver(body: dict[str, Any]) -> bool:
    return body.get("deliver", True) is not False


def _report(deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    return [d.to_json() for d in deliveries]


def _booking_reply(change: bookings.Change, body: dict[str, Any], status: int = 200) -> Response:
    booking, envelopes = change
    sent = current().webhooks.calcom(envelopes, deliver=_deliver(body))
    reply = {"booking": api_booking(booking), "webhooks": envelopes, "deliveries": _report(sent)}
    return json_response(reply, status)


@blueprint.post("/calcom/bookings")
def book() -> Response:
    """An attendee books: BOOKING_CREATED, or BOOKING_REQUESTED with requires_confirmation."""
    body = json_body()
    start, end = _time(body, "start"), _maybe_time(body, "end")
    attendees = body.get("attendees") or [body.get("attendee")]
    if not isinstance(attendees, list):
        raise ApiError(400, "attendees must be a list")
    organizer = body.get("organizer")
    if organizer is not None and not isinstance(organizer, dict):
        raise ApiError(400, "organizer must be an object")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata must be an object")
    change = bookings.create(
        current().state,
        start=start,
        end=end or bookings.lasting(start, body.get("length")),
        attendees=[bookings.person(a, "attendee") for a in attendees],
        organizer={**current().config.organizer, **(organizer or {})},
        guests=[str(g) for g in body.get("guests") or []],
        title=body.get("title"),
        location=str(body.get("location") or bookings.CAL_VIDEO),
        metadata=metadata,
        event_type_id=_int(body, "event_type_id", bookings.DEFAULT_EVENT_TYPE_ID),
        requires_confirmation=bool(body.get("requires_confirmation", False)),
        uid=body.get("uid"),
        responses={"notes": body["notes"]} if body.get("notes") else None,
    )
    return _booking_reply(change, body, 201)


@blueprint.post("/calcom/bookings/<uid>/reschedule")
def reschedule(uid: str) -> Response:
    """The attendee moves the booking: a new uid and BOOKING_RESCHEDULED."""
    body = json_body()
    start, end = _time(body, "start"), _maybe_time(body, "end")
    change = bookings.reschedule(current().state, uid, start, end, body.get("reason"))
    return _booking_reply(change, body, 201)


@blueprint.post("/calcom/bookings/<uid>/cancel")
def cancel(uid: str) -> Response:
    """Cancelled (or `request_reschedule`: the host asks for a new time): BOOKING_CANCELLED."""
    body = json_body()
    change = bookings.cancel(
        current().state,
        uid,
        body.get("reason"),
        request_reschedule=bool(body.get("request_reschedule", False)),
        cancelled_by=body.get("cancelled_by"),
    )
    return _booking_reply(change, body)


@blueprint.post("/calcom/bookings/<uid>/confirm")
def confirm(uid: str) -> Response:
    """The host confirms a pending booking: BOOKING_CREATED."""
    body = json_body()
    return _booking_reply(bookings.confirm(current().state, uid), body)


@blueprint.post("/calcom/bookings/<uid>/reject")
def reject(uid: str) -> Response:
    """The host rejects a pending booking: BOOKING_REJECTED."""
    body = json_body()
    return _booking_reply(bookings.decline(current().state, uid, body.get("reason")), body)


@blueprint.post("/calcom/bookings/<uid>/no-show")
def no_show(uid: str) -> Response:
    """The host marks attendees absent: BOOKING_NO_SHOW_UPDATED."""
    body = json_body()
    marks = body.get("attendees") or []
    if not isinstance(marks, list) or not all(isinstance(m, dict) for m in marks):
        raise ApiError(400, "attendees must be a list of {email, absent}")
    change = bookings.mark_absent(current().state, uid, bool(body.get("host")), marks)
    return _booking_reply(change, body)


def _call_reply(meeting: Any, events: list[dict[str, Any]], body: dict[str, Any]) -> Response:
    sent = current().webhooks.daily(events, deliver=_deliver(body))
    reply = {"meeting": meeting.to_json(), "events": events, "deliveries": _report(sent)}
    return json_response(reply, 201)


@blueprint.post("/daily/rooms/<name>/call")
def call(name: str) -> Response:
    """A call in the room: meeting.started, participant.joined/left, meeting.ended.

    Body: participants [{user_id, user_name, is_owner, join_after_s, stay_s}], start_ts,
    shuffle, seed, duplicate, end (false leaves the meeting ongoing), deliver.
    """
    body = json_body()
    meeting, events = calls.start_call(current().state, name, body)
    return _call_reply(meeting, events, body)


@blueprint.post("/daily/meetings/<meeting_id>/end")
def end(meeting_id: str) -> Response:
    """Everyone leaves an ongoing meeting: participant.left per participant, meeting.ended."""
    body = json_body()
    meeting, events = calls.end_call(current().state, meeting_id, body)
    return _call_reply(meeting, events, body)


@blueprint.post("/daily/webhook/fail")
def fail_webhook() -> Response:
    """Put the Daily webhook (one `uuid`, or all) in FAILED, as after 3 failed deliveries."""
    wanted = json_body().get("uuid")
    state = current().state
    with state.lock:
        hooks = [h for h in state.daily_webhooks.values() if wanted in (None, h.uuid)]
        if not hooks:
            raise ApiError(404, "no such Daily webhook")
        for hook in hooks:
            hook.state, hook.failed_count, hook.updated_at = "FAILED", 3, state.now()
        return json_response({"webhooks": [h.to_json() for h in hooks]})


@blueprint.post("/<provider>/webhooks")
def send_raw(provider: str) -> Response:
    """Send hand-made bodies `{"bodies": [...]}` signed as `provider` (odd payloads, replays)."""
    body = json_body()
    bodies = body.get("bodies")
    if not isinstance(bodies, list) or not all(isinstance(b, dict) for b in bodies):
        raise ApiError(400, "bodies must be a list of JSON objects")
    sender = current().webhooks
    if provider == "calcom":
        sent = sender.calcom(bodies, deliver=_deliver(body))
    elif provider == "daily":
        sent = sender.daily(bodies, deliver=_deliver(body))
    else:
        raise ApiError(404, f"no webhook sender for {provider}")
    return json_response({"deliveries": _report(sent)}, 201)
