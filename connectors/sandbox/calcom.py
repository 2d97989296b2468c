"""Cal.com API v2 emulation, mounted at /calcom/v2: bookings, their actions, slots, /me."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, request

from connectors.sandbox import bookings, calcom_query
from connectors.sandbox.api import ApiError, ProviderApi, bearer, current, json_body, json_response
from connectors.sandbox.calcom_payloads import api_booking
from connectors.sandbox.calcom_query import api_time
from connectors.sandbox.models import iso_ms

blueprint = Blueprint("calcom", __name__)

MAX_TAKE = 250
_CODES = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    409: "ConflictException",
    429: "ThrottlerException",
}


def render(err: ApiError) -> Response:
    """Cal.com's error envelope; a 429 also carries the throttler's named-limit headers."""
    code = err.code or _CODES.get(err.status, "InternalServerErrorException")
    headers = dict(err.headers)
    if err.status == 429:
        reset = headers.get("Retry-After", "60")
        headers.update(
            {
                "X-RateLimit-Limit-Default": "120",
                "X-RateLimit-Remaining-Default": "0",
                "X-RateLimit-Reset-Default": reset,
            }
        )
    body = {
        "status": "error",
        "timestamp": iso_ms(current().state.now()),
        "path": request.path,
        "error": {"code": code, "message": err.message},
    }
    return json_response(body, err.status, headers)


def authenticate(header: str | None, key: str | None) -> ApiError | None:
    """Any missing or wrong API key is a 401."""
    token = bearer(header)
    if token is None or (key is not None and token != key):
        return ApiError(401, "Invalid API Key", "UnauthorizedException")
    return None


def _ok(data: Any, status: int = 200, **extra: Any) -> Response:
    return json_response({"status": "success", "data": data, **extra}, status)


def _location(raw: Any) -> str:
    """API v2 location input (string or `{type, ...}` object) as Cal.com stores it."""
    if raw is None:
        return bookings.CAL_VIDEO
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, dict):
        raise ApiError(400, "location must be a string or an object")
    kind = raw.get("type")
    if kind == "integration":
        app = str(raw.get("integration", ""))
        return bookings.CAL_VIDEO if app == "cal-video" else f"integrations:{app}"
    for key in ("address", "link", "phone"):
        if isinstance(raw.get(key), str):
            return str(raw[key])
    raise ApiError(400, f"unsupported location type {kind!r}")


def _metadata(raw: Any) -> dict[str, str]:
    """Cal.com's limits: at most 50 keys, keys up to 40 characters, values up to 500."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > 50:
        raise ApiError(400, "metadata must be an object with at most 50 keys")
    for key, value in raw.items():
        if len(str(key)) > 40 or len(str(value)) > 500:
            raise ApiError(400, f"metadata entry {str(key)[:40]!r} is too long")
    return {str(k): str(v) for k, v in raw.items()}


def _sent(change: bookings.Change, status: int = 200) -> Response:
    """Send the change's webhooks to the hub (before answering, as Cal.com may), then answer."""
    booking, bodies = change
    current().webhooks.calcom(bodies)
    return _ok(api_booking(booking), status)


@blueprint.post("/bookings")
def create_booking() -> Response:
    """POST /v2/bookings -> 201 with the booking."""
    body = json_body()
    sb = current()
    start = api_time(body.get("start"), "start")
    try:
        event_type_id = int(body.get("eventTypeId") or bookings.DEFAULT_EVENT_TYPE_ID)
    except (TypeError, ValueError) as err:
        raise ApiError(400, "eventTypeId must be a number") from err
    guests = body.get("guests") or []
    if not isinstance(guests, list) or not all(isinstance(g, str) for g in guests):
        raise ApiError(400, "guests must be a list of emails")
    fields = body.get("bookingFieldsResponses") or {}
    change = bookings.create(
        sb.state,
        start=start,
        end=bookings.lasting(start, body.get("lengthInMinutes")),
        attendees=[bookings.person(body.get("attendee"), "attendee")],
        guests=guests,
        location=_location(body.get("location")),
        metadata=_metadata(body.get("metadata")),
        event_type_id=event_type_id,
        event_type_slug=str(body.get("eventTypeSlug") or bookings.DEFAULT_EVENT_TYPE_SLUG),
        requires_confirmation=event_type_id in sb.config.confirm_event_types,
        responses=fields if isinstance(fields, dict) else {},
    )
    return _sent(change, 201)


def _int_arg(name: str, default: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError as err:
        raise ApiError(400, f"{name} must be a whole number") from err
    if value < 0:
        raise ApiError(400, f"{name} must not be negative")
    return value


@blueprint.get("/bookings")
def list_bookings() -> Response:
    """GET /v2/bookings with Cal.com's filters, sorting and take/skip paging."""
    sb = current()
    take, skip = _int_arg("take", 100), _int_arg("skip", 0)
    if take > MAX_TAKE:
        raise ApiError(400, f"take must not be greater than {MAX_TAKE}")
    with sb.state.lock:
        everything = list(sb.state.bookings.values())
    found = calcom_query.select(everything, request.args, sb.state.now())
    page, pagination = calcom_query.paginate(found, take, skip)
    return _ok([api_booking(b) for b in page], pagination=pagination)


@blueprint.get("/bookings/<uid>")
def get_booking(uid: str) -> Response:
    """GET /v2/bookings/{uid}."""
    return _ok(api_booking(bookings.get(current().state, uid)))


@blueprint.post("/bookings/<uid>/cancel")
def cancel_booking(uid: str) -> Response:
    """POST /v2/bookings/{uid}/cancel {cancellationReason}."""
    body = json_body()
    sb = current()
    reason = body.get("cancellationReason")
    by = str(sb.config.organizer.get("email"))
    return _sent(bookings.cancel(sb.state, uid, reason, cancelled_by=by))


@blueprint.post("/bookings/<uid>/reschedule")
def reschedule_booking(uid: str) -> Response:
    """POST /v2/bookings/{uid}/reschedule {start} -> 201 with the NEW booking."""
    body = json_body()
    start = api_time(body.get("start"), "start")
    reason = body.get("reschedulingReason")
    return _sent(bookings.reschedule(current().state, uid, start, reason=reason), 201)


@blueprint.post("/bookings/<uid>/confirm")
def confirm_booking(uid: str) -> Response:
    """POST /v2/bookings/{uid}/confirm."""
    return _sent(bookings.confirm(current().state, uid))


@blueprint.post("/bookings/<uid>/decline")
def decline_booking(uid: str) -> Response:
    """POST /v2/bookings/{uid}/decline {reason}."""
    return _sent(bookings.decline(current().state, uid, json_body().get("reason")))


@blueprint.post("/bookings/<uid>/mark-absent")
def mark_absent(uid: str) -> Response:
    """POST /v2/bookings/{uid}/mark-absent {host, attendees[{email, absent}]}."""
    body = json_body()
    marks = body.get("attendees") or []
    if not isinstance(marks, list) or not all(isinstance(m, dict) for m in marks):
        raise ApiError(400, "attendees must be a list of {email, absent}")
    host = bool(body.get("host", False))
    return _sent(bookings.mark_absent(current().state, uid, host, marks))


@blueprint.get("/slots")
def slots() -> Response:
    """GET /v2/slots: every free `duration` slot between 09:00 and 17:00 UTC, by day."""
    sb, args = current(), request.args
    start = _day_or_time(args.get("start"), "start")
    end = _day_or_time(args.get("end"), "end")
    step = timedelta(minutes=_int_arg("duration", 30) or 30)
    with sb.state.lock:
        busy = [
            (b.start, b.end)
            for b in sb.state.bookings.values()
            if b.status in ("accepted", "pending")
        ]
    now, day = sb.state.now(), start.date()
    days: dict[str, list[dict[str, str]]] = {}
    while day <= end.date() and len(days) < 62:
        at = datetime.combine(day, time(9), start.tzinfo)
        free = []
        while at + step <= datetime.combine(day, time(17), start.tzinfo):
            clash = any(s < at + step and at < e for s, e in busy)
            if start <= at < end and at >= now and not clash:
                free.append({"start": iso_ms(at)})
            at += step
        if free:
            days[day.isoformat()] = free
        day += timedelta(days=1)
    return _ok(days)


def _day_or_time(value: str | None, field: str) -> datetime:
    """A datetime, or a date (a whole day: `end` then means the end of that day)."""
    text = (value or "").strip()
    if len(text) != 10:
        return api_time(text, field)
    day = api_time(text + "T00:00:00Z", field)
    return day + timedelta(days=1) if field == "end" else day


@blueprint.get("/me")
def me() -> Response:
    """GET /v2/me: the API key's owner."""
    org = current().state.config.organizer
    return _ok({k: org.get(k) for k in ("id", "username", "email", "name", "timeZone")})


PROVIDER = ProviderApi("calcom", "/calcom/v2", blueprint, authenticate, render)
