"""Cal.com's JSON: API v2 booking objects and webhook bodies, shaped like the real ones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.sandbox.models import Booking, iso_ms, iso_s

BOOKER_URL = "https://sandbox.cal.com"


def _offset_minutes(zone: Any, at: datetime) -> int:
    try:
        delta = at.astimezone(ZoneInfo(str(zone))).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(delta.total_seconds() // 60) if delta else 0


def api_booking(b: Booking) -> dict[str, Any]:
    """The booking as `GET /v2/bookings/{uid}` (cal-api-version 2024-08-13) returns it."""
    org = b.organizer
    data: dict[str, Any] = {
        "id": b.id,
        "uid": b.uid,
        "title": b.title,
        "description": b.description,
        "hosts": [
            {
                "id": org.get("id"),
                "name": org.get("name"),
                "email": org.get("email"),
                "displayEmail": org.get("email"),
                "username": org.get("username"),
                "timeZone": org.get("timeZone", "UTC"),
            }
        ],
        "status": b.status,
        "start": iso_ms(b.start),
        "end": iso_ms(b.end),
        "duration": b.length,
        "eventTypeId": b.event_type_id,
        "eventType": {"id": b.event_type_id, "slug": b.event_type_slug},
        "meetingUrl": meeting_url(b),
        "location": b.location,
        "absentHost": b.absent_host,
        "createdAt": iso_ms(b.created_at),
        "updatedAt": iso_ms(b.updated_at),
        "metadata": dict(b.metadata),
        "rating": None,
        "icsUid": b.ical_uid,
        "attendees": [
            {
                "name": a["name"],
                "email": a["email"],
                "displayEmail": a["email"],
                "timeZone": a.get("timeZone", "UTC"),
                "language": a.get("language", "en"),
                "absent": bool(a.get("absent", False)),
            }
            for a in b.attendees
        ],
        "guests": list(b.guests),
        "bookingFieldsResponses": dict(b.responses),
    }
    optional = {
        "cancellationReason": b.cancellation_reason,
        "cancelledByEmail": b.cancelled_by_email,
        "reschedulingReason": b.rescheduling_reason,
        "rescheduledFromUid": b.rescheduled_from_uid,
        "rescheduledToUid": b.rescheduled_to_uid,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return data


def meeting_url(b: Booking) -> str | None:
    """The booking's join link: Cal Video's page for Daily rooms, else a URL location."""
    if b.video is not None:
        return f"{BOOKER_URL}/video/{b.uid}"
    return b.location if b.location.startswith(("http://", "https://")) else None


def _people(b: Booking) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    org = b.organizer
    organizer = {
        "id": org.get("id"),
        "name": org.get("name"),
        "email": org.get("email"),
        "username": org.get("username"),
        "timeZone": org.get("timeZone", "UTC"),
        "language": {"locale": "en"},
        "timeFormat": "h:mma",
        "utcOffset": _offset_minutes(org.get("timeZone", "UTC"), b.start),
    }
    attendees = []
    for a in b.attendees:
        first, _, last = str(a["name"]).partition(" ")
        attendees.append(
            {
                "email": a["email"],
                "name": a["name"],
                "firstName": first,
                "lastName": last,
                "timeZone": a.get("timeZone", "UTC"),
                "language": {"locale": a.get("language", "en")},
                "utcOffset": _offset_minutes(a.get("timeZone", "UTC"), b.start),
            }
        )
    return organizer, attendees


def _responses(b: Booking) -> dict[str, Any]:
    main = b.attendees[0] if b.attendees else {"name": "", "email": ""}
    notes = b.responses.get("notes")
    return {
        "name": {"label": "your_name", "value": main["name"], "isHidden": False},
        "email": {"label": "email_address", "value": main["email"], "isHidden": False},
        "location": {
            "label": "location",
            "value": {"optionValue": "", "value": b.location},
            "isHidden": False,
        },
        "title": {"label": "what_is_this_meeting_about", "isHidden": True},
        "notes": {"label": "additional_notes", "isHidden": False}
        | ({"value": notes} if notes else {}),
        "guests": {"label": "additional_guests", "value": list(b.guests), "isHidden": False},
        "rescheduleReason": {"label": "reason_for_reschedule", "isHidden": False}
        | ({"value": b.rescheduling_reason} if b.rescheduling_reason else {}),
    }


#: Cal.com writes times differently per trigger (see payloads/calcom/*.json); the hub must cope
_TIME_FORMATS = {
    "BOOKING_CANCELLED": lambda t: t.isoformat(),
    "BOOKING_REJECTED": iso_ms,
}


def booking_payload(trigger: str, b: Booking) -> dict[str, Any]:
    """The `payload` of a booking webhook, as in `payloads/calcom/BOOKING_CREATED.json`."""
    organizer, attendees = _people(b)
    when = _TIME_FORMATS.get(trigger, iso_s)
    payload: dict[str, Any] = {
        "bookerUrl": BOOKER_URL,
        "title": b.title,
        "startTime": when(b.start),
        "endTime": when(b.end),
        "additionalNotes": b.responses.get("notes", ""),
        "type": b.event_type_slug,
        "description": b.description,
        "eventTypeId": b.event_type_id,
        "hideCalendarNotes": False,
        "hideCalendarEventDetails": False,
        "hideOrganizerEmail": False,
        "schedulingType": None,
        "seatsPerTimeSlot": None,
        "seatsShowAttendees": True,
        "seatsShowAvailabilityCount": True,
        "customReplyToEmail": None,
        "disableRescheduling": False,
        "disableCancelling": False,
        "organizer": organizer,
        "attendees": attendees,
        "customInputs": {},
        "responses": _responses(b),
        "userFieldsResponses": {},
        "location": b.location,
        "destinationCalendar": None,
        "iCalUID": b.ical_uid,
        "iCalSequence": b.ical_sequence,
        "requiresConfirmation": b.requires_confirmation,
        "oneTimePassword": None,
        "organizationId": None,
        "hashedLink": None,
        "uid": b.uid,
        "eventTitle": b.event_type_slug.replace("-", " ").title(),
        "eventDescription": "",
        "price": 0,
        "currency": "usd",
        "length": b.length,
        "bookingId": b.id,
        "metadata": dict(b.metadata),
        "status": b.status.upper(),
    }
    if b.video is not None and b.status == "accepted":
        payload["videoCallData"] = dict(b.video)
        payload["metadata"]["videoCallUrl"] = meeting_url(b)
    if trigger == "BOOKING_RESCHEDULED":
        del payload["iCalUID"]  # the documented RESCHEDULED example carries none
    return payload


def envelope(
    trigger: str, b: Booking, now: datetime, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`{triggerEvent, createdAt, payload}` for a booking trigger."""
    payload = booking_payload(trigger, b) | dict(extra or {})
    return {"triggerEvent": trigger, "createdAt": iso_ms(now), "payload": payload}


def no_show_envelope(b: Booking, marks: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """BOOKING_NO_SHOW_UPDATED: `bookingUid` (not `uid`) and `{email, noShow}` per attendee."""
    absent = [m["email"] for m in marks if m["noShow"]]
    message = f"{', '.join(absent)} marked as no-show" if absent else "no-show updated"
    return {
        "triggerEvent": "BOOKING_NO_SHOW_UPDATED",
        "createdAt": iso_ms(now),
        "payload": {"message": message, "attendees": marks, "bookingUid": b.uid, "bookingId": b.id},
    }
