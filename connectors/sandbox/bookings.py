"""Cal.com booking changes, shared by the REST API and the control plane; each returns webhooks."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.api import ApiError
from connectors.sandbox.calcom_payloads import envelope, no_show_envelope
from connectors.sandbox.models import Booking, iso_s
from connectors.sandbox.state import SandboxState

CAL_VIDEO = "integrations:daily"
DEFAULT_EVENT_TYPE_ID = 1
DEFAULT_EVENT_TYPE_SLUG = "coaching-session"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_ROOM_CHARS = string.ascii_letters + string.digits

Change = tuple[Booking, list[dict[str, Any]]]
"""The booking after a change and the webhook bodies Cal.com sends for it."""


def new_uid() -> str:
    """A 22-character base58 uid like Cal.com's (short-uuid of a UUID v4)."""
    n, out = uuid.uuid4().int, ""
    while n:
        n, digit = divmod(n, 58)
        out = _BASE58[digit] + out
    return out.rjust(22, _BASE58[0])


def person(raw: Any, what: str) -> dict[str, Any]:
    """An attendee `{name, email, timeZone, language}`; ApiError 400 when incomplete."""
    if not isinstance(raw, Mapping) or not raw.get("email") or not raw.get("name"):
        raise ApiError(400, f"{what} needs a name and an email", "BadRequestException")
    return {
        "name": str(raw["name"]),
        "email": str(raw["email"]),
        "timeZone": str(raw.get("timeZone") or "UTC"),
        "language": str(raw.get("language") or "en"),
        "absent": False,
    }


def get(state: SandboxState, uid: str) -> Booking:
    """The booking with this uid; ApiError 404 otherwise."""
    with state.lock:
        found = state.bookings.get(uid)
    if found is None:
        raise ApiError(404, f"Booking with uid={uid} was not found", "NotFoundException")
    return found


def _cal_video(state: SandboxState, b: Booking) -> None:
    """Cal Video: a public Daily room that expires an hour after the end, plus an owner token."""
    if b.video is not None:
        room = state.rooms.get(str(b.video["id"]))
        if room is not None:
            room.properties["exp"] = int(b.end.timestamp()) + 3600
        return
    name = "".join(secrets.choice(_ROOM_CHARS) for _ in range(20))
    room = state.add_room(name, "public", {"exp": int(b.end.timestamp()) + 3600})
    token = state.issue_token({"room_name": name, "is_owner": True}, issued_by="calcom")
    url = f"https://sandbox.daily.co/{room.name}"
    b.video = {"type": "daily_video", "id": name, "password": token.token, "url": url}


def create(
    state: SandboxState,
    *,
    start: datetime,
    end: datetime,
    attendees: Iterable[Mapping[str, Any]],
    organizer: Mapping[str, Any] | None = None,
    guests: Iterable[str] = (),
    title: str | None = None,
    location: str = CAL_VIDEO,
    metadata: Mapping[str, Any] | None = None,
    event_type_id: int = DEFAULT_EVENT_TYPE_ID,
    event_type_slug: str = DEFAULT_EVENT_TYPE_SLUG,
    requires_confirmation: bool = False,
    uid: str | None = None,
    responses: Mapping[str, Any] | None = None,
) -> Change:
    """A new booking: BOOKING_CREATED, or BOOKING_REQUESTED when it needs confirmation."""
    if end <= start:
        raise ApiError(400, "end must be after start", "BadRequestException")
    people = [dict(p) for p in attendees]
    host = dict(organizer or state.config.organizer)
    uid = uid or new_uid()
    with state.lock:
        if uid in state.bookings:
            raise ApiError(409, f"Booking with uid={uid} already exists", "ConflictException")
        now = state.now()
        event = event_type_slug.replace("-", " ").title()
        b = Booking(
            id=state.next_booking_id(),
            uid=uid,
            title=title or f"{event} between {host.get('name')} and {people[0]['name']}",
            start=start,
            end=end,
            status="pending" if requires_confirmation else "accepted",
            event_type_id=event_type_id,
            event_type_slug=event_type_slug,
            organizer=host,
            attendees=people + [person({"name": g, "email": g}, "guest") for g in guests],
            location=location,
            ical_uid=f"{uid}@Cal.com",
            created_at=now,
            updated_at=now,
            guests=[g.lower() for g in guests],
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            responses=dict(responses or {}),
            requires_confirmation=requires_confirmation,
        )
        if location == CAL_VIDEO and not requires_confirmation:
            _cal_video(state, b)
        state.bookings[uid] = b
        trigger = "BOOKING_REQUESTED" if requires_confirmation else "BOOKING_CREATED"
        return b, [envelope(trigger, b, now)]


def _open(b: Booking, action: str) -> None:
    if b.status in ("cancelled", "rejected"):
        raise ApiError(400, f"Can't {action} a booking that is {b.status}.", "BadRequestException")


def reschedule(
    state: SandboxState,
    uid: str,
    start: datetime,
    end: datetime | None = None,
    reason: str | None = None,
) -> Change:
    """A new booking (new uid) replacing the old one, which becomes cancelled."""
    with state.lock:
        old = get(state, uid)
        _open(old, "reschedule")
        now = state.now()
        end = end or start + (old.end - old.start)
        if end <= start:
            raise ApiError(400, "end must be after start", "BadRequestException")
        new = replace(
            old,
            id=state.next_booking_id(),
            uid=new_uid(),
            start=start,
            end=end,
            status="pending" if old.requires_confirmation else "accepted",
            attendees=[dict(a) for a in old.attendees],
            metadata=dict(old.metadata),
            video=dict(old.video) if old.video else None,
            ical_sequence=old.ical_sequence + 1,
            rescheduled_from_uid=old.uid,
            rescheduled_to_uid=None,
            rescheduling_reason=reason,
            created_at=now,
            updated_at=now,
        )
        if new.video is not None:
            _cal_video(state, new)
        old.status, old.rescheduled_to_uid, old.updated_at = "cancelled", new.uid, now
        state.bookings[new.uid] = new
        extra = {
            "rescheduleId": old.id,
            "rescheduleUid": old.uid,
            "rescheduleStartTime": iso_s(old.start),
            "rescheduleEndTime": iso_s(old.end),
            "rescheduledBy": old.organizer.get("email"),
        }
        # calcom/cal.diy#21169: a reschedule needing confirmation fires BOOKING_REQUESTED
        trigger = "BOOKING_REQUESTED" if new.status == "pending" else "BOOKING_RESCHEDULED"
        return new, [envelope(trigger, new, now, extra)]


def cancel(
    state: SandboxState,
    uid: str,
    reason: str | None = None,
    request_reschedule: bool = False,
    cancelled_by: str | None = None,
) -> Change:
    """BOOKING_CANCELLED (`requestReschedule` when the host asked for a new time)."""
    with state.lock:
        b = get(state, uid)
        if b.status == "cancelled":
            # Cal.com's handleCancelBooking refuses a second cancel with HTTP 400
            raise ApiError(400, "This booking has already been cancelled.", "BadRequestException")
        b.status, b.cancellation_reason = "cancelled", reason
        b.cancelled_by_email = cancelled_by
        b.ical_sequence += 1
        b.updated_at = state.now()
        if b.video is not None:  # Cal Video deletes the Daily room with the booking
            state.rooms.pop(str(b.video["id"]), None)
        extra: dict[str, Any] = {
            "cancellationReason": reason,
            "requestReschedule": request_reschedule,
        }
        if cancelled_by:
            extra["cancelledBy"] = cancelled_by
        return b, [envelope("BOOKING_CANCELLED", b, b.updated_at, extra)]


def confirm(state: SandboxState, uid: str) -> Change:
    """A pending booking accepted: Cal.com sends BOOKING_CREATED."""
    with state.lock:
        b = get(state, uid)
        if b.status != "pending":
            raise ApiError(400, f"Booking with uid={uid} is not pending", "BadRequestException")
        b.status, b.updated_at = "accepted", state.now()
        if b.location == CAL_VIDEO:
            _cal_video(state, b)
        return b, [envelope("BOOKING_CREATED", b, b.updated_at)]


def decline(state: SandboxState, uid: str, reason: str | None = None) -> Change:
    """A pending booking rejected: BOOKING_REJECTED."""
    with state.lock:
        b = get(state, uid)
        if b.status != "pending":
            raise ApiError(400, f"Booking with uid={uid} is not pending", "BadRequestException")
        b.status, b.rejection_reason, b.updated_at = "rejected", reason, state.now()
        return b, [envelope("BOOKING_REJECTED", b, b.updated_at, {"rejectionReason": reason})]


def mark_absent(
    state: SandboxState, uid: str, host: bool = False, marks: Iterable[Mapping[str, Any]] = ()
) -> Change:
    """Attendee/host no-shows: BOOKING_NO_SHOW_UPDATED for the attendees marked."""
    with state.lock:
        b = get(state, uid)
        by_email = {str(a["email"]).lower(): a for a in b.attendees}
        changed = []
        for mark in marks:
            found = by_email.get(str(mark.get("email", "")).lower())
            if found is None:
                raise ApiError(400, f"Attendee {mark.get('email')} is not on the booking")
            found["absent"] = bool(mark.get("absent"))
            changed.append({"email": found["email"], "noShow": found["absent"]})
        b.absent_host, b.updated_at = host, state.now()
        bodies = [no_show_envelope(b, changed, b.updated_at)] if changed else []
        return b, bodies


def lasting(start: datetime, minutes: Any) -> datetime:
    """The end of a booking that starts at `start` and lasts `minutes` (default 30)."""
    try:
        length = int(minutes) if minutes is not None else 30
    except (TypeError, ValueError) as err:
        raise ApiError(400, "lengthInMinutes must be a number", "BadRequestException") from err
    if length <= 0:
        raise ApiError(400, "lengthInMinutes must be positive", "BadRequestException")
    return start + timedelta(minutes=length)
