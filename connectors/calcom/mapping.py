"""Pure Cal.com translations: webhook payloads and API v2 bookings to canonical changes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import Attendance, Change, LinkRef, Person
from connectors.calcom import const
from connectors.errors import InvalidPayload
from connectors.limits import MAX_PEOPLE

_PHONE = re.compile(r"^(tel:)?\+?[\d\s().-]{6,}$")


def parse_time(value: Any, field: str) -> datetime:
    """An ISO 8601 string (`Z`, `.000Z`, `+00:00`...) as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{field} is missing")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise InvalidPayload(f"{field} is not an ISO 8601 datetime") from err
    if parsed.tzinfo is None:
        raise InvalidPayload(f"{field} has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as err:  # 0001-01-01T00:00+01:00 is before the first UTC datetime
        raise InvalidPayload(f"{field} is out of range") from err


def iso_utc(value: datetime) -> str:
    """An aware datetime as the UTC `YYYY-MM-DDTHH:MM:SSZ` form Cal.com expects."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_zone(name: Any) -> str | None:
    """The name when it is a known IANA time zone, else None."""
    try:
        return name if isinstance(name, str) and name and ZoneInfo(name) else None
    # ValueError: a malformed key like "../x"; OSError: a key longer than a file name may be
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def location_kind(location: str | None, meeting_url: str | None = None) -> str | None:
    """`video`, `phone` or `in_person` for a Cal.com location value (None when unknown)."""
    loc = (location or "").strip()
    low = loc.lower()
    if low in const.VIDEO_LOCATIONS or low.startswith(("integrations:", "http://", "https://")):
        return "video"
    if low in const.PHONE_LOCATIONS or _PHONE.match(loc):
        return "phone"
    if low in const.IN_PERSON_LOCATIONS or loc:
        return "in_person"
    return "video" if meeting_url else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # ASCII digits only ("²".isdigit() is true, int("²") fails), and few enough for int()
    ok = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18
    return int(value) if ok else None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _person(raw: Any, *, host: bool = False) -> Person | None:
    data = _dict(raw)
    email = _str(data.get("email"))
    if email is None:
        return None
    ident = data.get("id")
    return Person(
        email=email,
        name=_str(data.get("name")) or "",
        timezone=valid_zone(data.get("timeZone")),
        external_id=str(ident) if host and isinstance(ident, int | str) and ident != "" else None,
        username=_str(data.get("username")) if host else None,
    )


def _people(attendees: Any, extra_emails: Iterable[Any], skip: Iterable[str]) -> list[Person]:
    # attendees, then bare guest emails, deduplicated by lower-cased email
    seen = {s.lower() for s in skip}
    found: list[Person] = []
    candidates = [_person(a) for a in _list(attendees)]
    candidates += [Person(email=e) for e in extra_emails if _str(e)]
    for person in candidates:
        if person is not None and person.email.lower() not in seen:
            seen.add(person.email.lower())
            found.append(person)
    return found


def _stripe_links(metadata: Mapping[str, Any]) -> list[LinkRef]:
    external = _str(metadata.get("externalId"))
    return [LinkRef("stripe", external)] if external and external.startswith("pi_") else []


def _first(p: Mapping[str, Any], *keys: str) -> Any:
    return next((p[k] for k in keys if p.get(k) not in (None, "")), None)


def _kept_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The booking metadata worth a timeline entry, within Cal.com's own limits (50 keys of
    at most 40 characters, values of at most 500): an oversized entry is not a real one."""
    kept: dict[str, Any] = {}
    for key, value in metadata.items():
        if len(kept) == const.METADATA_MAX_KEYS:
            break
        small = isinstance(value, int) or (
            isinstance(value, str) and len(value) <= const.METADATA_MAX_VALUE
        )
        if small and len(key) <= const.METADATA_MAX_KEY:
            kept[key] = value
    return kept


def booking_details(p: Mapping[str, Any], where: str = "payload") -> dict[str, Any]:
    """Change fields of a booking, as a webhook payload or an API v2 booking (`start`, `hosts`)."""
    api = "start" in p and "startTime" not in p  # API v2 names
    start_key, end_key = ("start", "end") if api else ("startTime", "endTime")
    start = parse_time(p.get(start_key), f"{where}.{start_key}")
    end = parse_time(p.get(end_key), f"{where}.{end_key}")
    if end < start:
        raise InvalidPayload(f"{where}.{end_key} is before {where}.{start_key}")
    organizer = _dict(p.get("organizer") or next(iter(_list(p.get("hosts"))), None))
    zone = organizer.get("timeZone")
    if zone is not None and valid_zone(zone) is None:
        who = "organizer" if "organizer" in p else "hosts[0]"
        raise InvalidPayload(f"{where}.{who}.timeZone is not an IANA time zone")
    coach = _person(organizer, host=True)
    guests = _list(_dict(_dict(p.get("responses")).get("guests")).get("value"))
    guests = guests or _list(p.get("guests"))
    listed = len(_list(p.get("attendees"))) + len(guests)
    if listed > MAX_PEOPLE:  # checked before any is read: a huge list costs nothing
        raise InvalidPayload(
            f"{where}.attendees and guests list {listed} people "
            f"(a session takes at most {MAX_PEOPLE})"
        )
    people = _people(p.get("attendees"), guests, [coach.email] if coach else [])
    metadata, video = _dict(p.get("metadata")), _dict(p.get("videoCallData"))
    location = _str(p.get("location"))
    web = location if location and location.startswith(("http://", "https://")) else None
    meeting_url = _first(metadata, "videoCallUrl") or _first(video, "url")
    meeting_url = _str(meeting_url or p.get("meetingUrl") or web)
    links = _stripe_links(metadata)
    if video.get("type") == const.CAL_VIDEO_TYPE and _str(video.get("id")):
        links.append(LinkRef("daily", video["id"]))
    # never videoCallData.password: it is a Daily owner meeting token
    detail = {
        "bookingId": _first(p, "bookingId", "id"),
        "eventTypeId": _first(p, "eventTypeId") or _dict(p.get("eventType")).get("id"),
        "iCalUID": _first(p, "iCalUID", "icsUid"),
        "calcom_status": _str(p.get("status")),
        "metadata": _kept_metadata(metadata) or None,
    }
    return {
        "start_at": start,
        "end_at": end,
        "timezone": _str(zone),
        "title": _str(p.get("title")),
        "notes": _str(p.get("additionalNotes")) or _str(p.get("description")),
        "kind": location_kind(location, meeting_url),
        "location": location,
        "meeting_url": meeting_url,
        "session_id": _str(metadata.get(const.SESSION_METADATA_KEY)),
        "coach": coach,
        "attendee": people[0] if people else None,
        "guests": tuple(people[1:]),
        "links": tuple(links),
        "detail": {k: v for k, v in detail.items() if v is not None},
    }


def _payment(p: Mapping[str, Any], status: str, event: str) -> dict[str, Any]:
    currency = _str(p.get("currency"))
    return dict(
        event=event,
        payment_status=status,
        payment_amount=_int(p.get("price")),
        payment_currency=currency.lower() if currency else None,
        detail={"paymentId": p.get("paymentId")},
    )


def _no_show(p: Mapping[str, Any]) -> dict[str, Any]:
    raw = [a for a in _list(p.get("attendees")) if isinstance(a, Mapping)]
    if len(raw) > MAX_PEOPLE:
        raise InvalidPayload(
            f"payload.attendees lists {len(raw)} people (a session takes at most {MAX_PEOPLE})"
        )
    marks = [{"email": a.get("email"), "noShow": _truthy(a.get("noShow"))} for a in raw]
    detail = dict(attendees=marks, message=_str(p.get("message")), bookingId=p.get("bookingId"))
    no_show = any(m["noShow"] for m in marks) if marks else None
    return dict(event="no_show_updated", attendance=Attendance(no_show=no_show), detail=detail)


def _previous_times(p: Mapping[str, Any]) -> dict[str, Any]:
    before: dict[str, Any] = {"rescheduleId": p.get("rescheduleId")}
    for edge in ("Start", "End"):
        if _str(p.get(src := f"reschedule{edge}Time")):
            before[f"previous_{edge.lower()}"] = iso_utc(parse_time(p[src], f"payload.{src}"))
    return before


def _fields(trigger: str, p: Mapping[str, Any]) -> dict[str, Any] | None:
    """The trigger-specific Change fields: one `match` arm per trigger, None to ignore it."""
    moved = _str(p.get("rescheduleUid"))
    pending = "requested" if str(p.get("status", "")).upper() == "PENDING" else "confirmed"
    reason = _str(p.get("cancellationReason"))
    match trigger:
        # a new booking (PENDING = waits for the host); rescheduleUid = it replaces that booking
        case const.BOOKING_CREATED:
            event = "rescheduled" if moved else "requested" if pending == "requested" else "created"
            return dict(event=event, status=pending, previous_external_id=moved)
        # a booking needing confirmation; with rescheduleUid an API v2 reschedule of one (#21169)
        case const.BOOKING_REQUESTED:
            event = "rescheduled" if moved else "requested"
            return dict(event=event, status="requested", previous_external_id=moved)
        # the host declined a request
        case const.BOOKING_REJECTED:
            why = _str(p.get("rejectionReason"))
            return dict(event="rejected", status="rejected", cancellation_reason=why)
        # a reschedule issues a new uid; rescheduleUid names the booking it replaces
        case const.BOOKING_RESCHEDULED:
            before = _previous_times(p)
            return dict(
                event="rescheduled", status=pending, previous_external_id=moved, detail=before
            )
        # requestReschedule: the host asked the client to pick a new time, not a real cancel
        case const.BOOKING_CANCELLED if _truthy(p.get("requestReschedule")):
            status = "awaiting_reschedule"
            return dict(event="reschedule_requested", status=status, cancellation_reason=reason)
        # a real cancellation, by whoever the payload names (else Cal.com itself)
        case const.BOOKING_CANCELLED:
            by = _str(p.get("cancelledBy")) or const.SLUG
            return dict(
                event="cancelled", status="cancelled", cancellation_reason=reason, cancelled_by=by
            )
        # payment captured; metadata.externalId is the Stripe PaymentIntent
        case const.BOOKING_PAID:
            return _payment(p, "paid", "paid")
        # checkout started, money not received yet
        case const.BOOKING_PAYMENT_INITIATED:
            return _payment(p, "pending", "payment_initiated")
        # host marked attendees (not) present; this payload names the booking by bookingUid
        case const.BOOKING_NO_SHOW_UPDATED:
            return _no_show(p)
        # flat bodies fired on the clock at the booked start/end, not on joins: timeline only
        case const.MEETING_STARTED | const.MEETING_ENDED:
            scheduled = {"startTime": p.get("startTime"), "endTime": p.get("endTime")}
            detail = {**scheduled, "bookingId": p.get("id")}
            links = tuple(_stripe_links(_dict(p.get("metadata"))))
            return dict(event=trigger.lower(), timeline_only=True, links=links, detail=detail)
        # any other trigger: the hub records the delivery as ignored
        case _:
            return None


def to_changes(body: Mapping[str, Any]) -> tuple[Change, ...]:
    """The canonical changes a decoded Cal.com webhook body carries (may be none)."""
    trigger = body.get("triggerEvent")
    if not isinstance(trigger, str) or not trigger:
        raise InvalidPayload("triggerEvent is missing")
    if trigger not in const.HANDLED_TRIGGERS:
        return ()  # a trigger the hub does not use: recorded as ignored
    if isinstance(body.get("payload"), Mapping):
        p, at = body["payload"], parse_time(body.get("createdAt"), "createdAt")
    else:  # MEETING_* (and flat form bodies): the booking row itself, stamped by updatedAt
        p, at = body, parse_time(body.get("updatedAt") or body.get("createdAt"), "updatedAt")
    uid_key = "bookingUid" if trigger == const.BOOKING_NO_SHOW_UPDATED else "uid"
    if (uid := _str(p.get(uid_key))) is None:
        raise InvalidPayload(f"{trigger}: {uid_key} is missing")
    fields = _fields(trigger, p) or {}
    if trigger in const.BOOKING_TRIGGERS:
        # create: a booking we never saw (a cancel, a rejection, a payment) is still recorded
        details = booking_details(p)
        detail = {**details.pop("detail"), **fields.pop("detail", {})}
        fields = {**details, **fields, "create": True, "detail": detail}
    fields["detail"] = {k: v for k, v in fields.get("detail", {}).items() if v is not None}
    fields["sequence"] = _int(p.get("iCalSequence"))
    return (Change(source=const.SLUG, external_id=uid, occurred_at=at, **fields),)


def booking_to_change(booking: Mapping[str, Any]) -> Change | None:
    """An API v2 booking (GET /v2/bookings) as a `synced` Change; None for a superseded one."""
    uid = _str(booking.get("uid"))
    if uid is None:
        raise InvalidPayload("booking.uid is missing")
    status = str(booking.get("status", "")).lower()
    if status == "cancelled" and _str(booking.get("rescheduledToUid")):
        return None  # the old half of a reschedule: the new booking carries the session
    details = booking_details(booking, "booking")
    extra = ("absentHost", "rescheduledToUid", "cancelledByEmail")
    details["detail"].update({k: booking[k] for k in extra if booking.get(k) is not None})
    attendees = [a for a in _list(booking.get("attendees")) if isinstance(a, Mapping)]
    absent = [_truthy(a["absent"]) for a in attendees if "absent" in a]
    by = (_str(booking.get("cancelledByEmail")) or const.SLUG) if status == "cancelled" else None
    return Change(
        source=const.SLUG,
        external_id=uid,
        event="synced",
        occurred_at=parse_time(booking.get("updatedAt") or booking.get("createdAt"), "updatedAt"),
        previous_external_id=_str(booking.get("rescheduledFromUid")),
        create=True,
        status=const.API_STATUS.get(status),
        cancellation_reason=_str(booking.get("cancellationReason")),
        cancelled_by=by,
        attendance=Attendance(no_show=any(absent)) if absent else None,
        **details,
    )
