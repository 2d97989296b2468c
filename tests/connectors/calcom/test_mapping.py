"""Cal.com payloads (recorded webhook fixtures and API v2 bookings) to canonical changes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Attendance, Change, LinkRef, Person
from connectors.calcom.mapping import booking_to_change, iso_utc, location_kind, to_changes
from connectors.errors import InvalidPayload

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def one(body: dict[str, Any]) -> Change:
    changes = to_changes(body)
    assert len(changes) == 1
    return changes[0]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


COACH = Person(
    email="organizer@example.com",
    name="Organizer Name",
    timezone="UTC",
    external_id="1",
    username="organizer-handle",
)
GUEST = Person(email="guest@example.com", name="Guest User", timezone="UTC")
EXTRA = Person(email="additional-guest@example.com", name="Additional Guest", timezone="UTC")


# --- every fixture ------------------------------------------------------------------------


def test_booking_created() -> None:
    change = one(load("BOOKING_CREATED"))
    assert change.source == "calcom"
    assert change.external_id == "unique-booking-id"
    assert change.event == "created"
    assert change.create is True
    assert change.status == "confirmed"
    assert change.occurred_at == utc(2024, 1, 1)
    assert change.start_at == utc(2024, 1, 1, 10, 0)
    assert change.end_at == utc(2024, 1, 1, 10, 15)
    assert change.timezone == "UTC"
    assert change.title == "Strategy Session between Organizer and Guest"
    assert change.notes is None
    assert change.coach == COACH
    assert change.attendee == GUEST
    assert change.guests == (EXTRA,)
    assert change.kind == "video"
    assert change.location == "integrations:video-provider"
    assert change.meeting_url == "https://app.example.com/video/unique-booking-id"
    assert change.sequence == 0
    assert change.previous_external_id is None
    assert change.links == ()  # videoCallData.type is not Cal Video here
    assert change.detail["bookingId"] == 100
    assert change.detail["eventTypeId"] == 123
    assert change.detail["iCalUID"] == "unique-identifier-string@example.com"


def test_times_are_aware_utc_for_every_booking_fixture() -> None:
    for name in ("CREATED", "REQUESTED", "REJECTED", "RESCHEDULED", "CANCELLED", "PAID"):
        change = one(load(f"BOOKING_{name}"))
        for moment in (change.occurred_at, change.start_at, change.end_at):
            assert moment is not None
            assert moment.utcoffset() is not None
            assert moment.tzinfo == UTC


def test_booking_requested() -> None:
    change = one(load("BOOKING_REQUESTED"))
    assert (change.event, change.status, change.create) == ("requested", "requested", True)
    assert change.notes == "Standard meeting notes placeholder"
    assert change.start_at == utc(2024, 1, 1, 13, 0)


def test_booking_rejected() -> None:
    change = one(load("BOOKING_REJECTED"))
    assert (change.event, change.status, change.create) == ("rejected", "rejected", True)
    assert change.cancellation_reason == "The organizer is no longer available at this time."
    assert change.start_at == utc(2024, 1, 1, 15, 0)  # `.000Z` form
    assert change.sequence is None


def test_booking_rescheduled() -> None:
    change = one(load("BOOKING_RESCHEDULED"))
    assert change.external_id == "new-booking-unique-id"
    assert change.previous_external_id == "previous-booking-unique-id"
    assert (change.event, change.status, change.create) == ("rescheduled", "confirmed", True)
    assert change.start_at == utc(2024, 1, 10, 14, 30)
    assert change.end_at == utc(2024, 1, 10, 14, 45)
    assert change.sequence == 1
    assert change.detail["previous_start"] == "2024-01-05T14:30:00Z"
    assert change.detail["previous_end"] == "2024-01-05T14:45:00Z"
    assert change.detail["rescheduleId"] == 200


def test_booking_cancelled() -> None:
    change = one(load("BOOKING_CANCELLED"))
    assert (change.event, change.status, change.create) == ("cancelled", "cancelled", True)
    assert change.cancellation_reason == "I am no longer able to attend this session."
    assert change.cancelled_by == "calcom"
    assert change.start_at == utc(2024, 1, 4, 10, 0)  # `+00:00` form
    assert change.sequence == 2


def test_booking_cancelled_names_who_cancelled() -> None:
    body = load("BOOKING_CANCELLED")
    body["payload"]["cancelledBy"] = "organizer@example.com"
    assert one(body).cancelled_by == "organizer@example.com"


@pytest.mark.parametrize("flag", [True, "true"])
def test_request_reschedule_is_awaiting_reschedule_not_cancelled(flag: object) -> None:
    body = load("BOOKING_CANCELLED")
    body["payload"]["requestReschedule"] = flag
    body["payload"]["cancellationReason"] = "Please pick another time"
    change = one(body)
    assert change.status == "awaiting_reschedule"
    assert change.event == "reschedule_requested"
    assert change.cancellation_reason == "Please pick another time"
    assert change.cancelled_by is None


def test_booking_paid() -> None:
    change = one(load("BOOKING_PAID"))
    assert (change.event, change.create) == ("paid", True)
    assert change.status is None  # payment is its own axis
    assert change.payment_status == "paid"
    assert change.payment_amount == 1000
    assert change.payment_currency == "usd"
    assert change.links == (LinkRef("stripe", "pi_0000000000000000"),)
    assert change.detail["paymentId"] == 500
    assert change.guests == ()


def test_booking_payment_initiated() -> None:
    body = load("BOOKING_PAID")
    body["triggerEvent"] = "BOOKING_PAYMENT_INITIATED"
    change = one(body)
    assert (change.event, change.payment_status) == ("payment_initiated", "pending")
    assert change.links == (LinkRef("stripe", "pi_0000000000000000"),)


def test_booking_no_show_updated_uses_booking_uid() -> None:
    change = one(load("BOOKING_NO_SHOW_UPDATED"))
    assert change.external_id == "5vQFqxDFMjdgKGMijqtqRw"
    assert change.event == "no_show_updated"
    assert change.create is False
    assert change.attendance == Attendance(no_show=True)
    assert change.occurred_at == datetime(2025, 12, 1, 12, 34, 34, 774000, tzinfo=UTC)
    assert change.detail == {
        "attendees": [{"email": "test@example.com", "noShow": True}],
        "message": "test@example.com marked as no-show",
        "bookingId": 31,
    }


def test_no_show_cleared_for_everyone() -> None:
    body = load("BOOKING_NO_SHOW_UPDATED")
    body["payload"]["attendees"] = [{"email": "a@x.test", "noShow": False}]
    assert one(body).attendance == Attendance(no_show=False)


@pytest.mark.parametrize(
    ("trigger", "event", "stamp"),
    [
        ("MEETING_STARTED", "meeting_started", utc(2024, 1, 1, 9, 45)),
        ("MEETING_ENDED", "meeting_ended", utc(2024, 1, 1, 10, 20)),
    ],
)
def test_meeting_triggers_are_timeline_only(trigger: str, event: str, stamp: datetime) -> None:
    change = one(load(trigger))
    assert change.external_id == "unique-booking-identifier"
    assert change.event == event
    assert change.timeline_only is True
    assert change.create is False
    assert change.status is None
    assert change.attendance is None
    assert change.occurred_at == stamp  # flat body: updatedAt, not the booking's createdAt


@pytest.mark.parametrize("trigger", ["RECORDING_READY", "OOO_CREATED", "FORM_SUBMITTED"])
def test_other_triggers_carry_no_changes(trigger: str) -> None:
    assert to_changes({"triggerEvent": trigger, "payload": {}}) == ()


# --- variants -----------------------------------------------------------------------------


def test_created_pending_is_requested() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["status"] = "PENDING"
    change = one(body)
    assert (change.status, change.event) == ("requested", "requested")


def test_created_with_reschedule_uid_is_a_reschedule() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["rescheduleUid"] = "older-uid"
    change = one(body)
    assert (change.event, change.previous_external_id) == ("rescheduled", "older-uid")


def test_requested_with_reschedule_uid_moves_the_session_to_requested() -> None:
    body = load("BOOKING_REQUESTED")
    body["payload"]["rescheduleUid"] = "older-uid"
    change = one(body)
    assert (change.event, change.status) == ("rescheduled", "requested")
    assert change.previous_external_id == "older-uid"


def test_rescheduled_pending_is_requested() -> None:
    body = load("BOOKING_RESCHEDULED")
    body["payload"]["status"] = "PENDING"
    assert one(body).status == "requested"


def test_cal_video_room_is_a_daily_link_and_its_token_never_leaks() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["videoCallData"]["type"] = "daily_video"
    change = one(body)
    assert LinkRef("daily", "meeting-room-id") in change.links
    assert "redacted_token" not in repr(change)


def test_meeting_url_falls_back_to_video_call_data() -> None:
    body = load("BOOKING_CREATED")
    del body["payload"]["metadata"]
    assert one(body).meeting_url == "https://video.example.com/meeting-room-id"


def test_other_offsets_become_utc() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["startTime"] = "2024-01-01T12:00:00+02:00"
    body["payload"]["endTime"] = "2024-01-01T12:30:00.000+02:00"
    change = one(body)
    assert change.start_at == utc(2024, 1, 1, 10, 0)
    assert change.end_at == utc(2024, 1, 1, 10, 30)


def test_guests_from_responses_are_added_once_case_insensitively() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["responses"]["guests"]["value"] = [
        "ADDITIONAL-guest@example.com",
        "late@example.com",
        "organizer@example.com",
    ]
    change = one(body)
    assert [g.email for g in change.guests] == ["additional-guest@example.com", "late@example.com"]


def test_unknown_attendee_zone_is_dropped_but_organizer_zone_is_checked() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["attendees"][0]["timeZone"] = "Nowhere/Land"
    change = one(body)
    assert change.attendee is not None
    assert change.attendee.timezone is None
    body["payload"]["organizer"]["timeZone"] = "Nowhere/Land"
    with pytest.raises(InvalidPayload, match="payload.organizer.timeZone"):
        to_changes(body)


def test_session_id_is_read_from_our_metadata() -> None:
    body = load("BOOKING_CREATED")
    body["payload"]["metadata"]["sessionhub_session_id"] = "sess-1"
    assert one(body).session_id == "sess-1"


@pytest.mark.parametrize(
    ("location", "url", "kind"),
    [
        ("integrations:daily", None, "video"),
        ("integrations:zoom", None, "video"),
        ("integrations:google:meet", None, "video"),
        ("integrations:office365_video", None, "video"),
        ("integrations:video-provider", None, "video"),
        ("https://meet.example.com/abc", None, "video"),
        ("link", None, "video"),
        ("phone", None, "phone"),
        ("userPhone", None, "phone"),
        ("+1 (415) 555-0100", None, "phone"),
        ("tel:+441234567890", None, "phone"),
        ("inPerson", None, "in_person"),
        ("attendeeInPerson", None, "in_person"),
        ("12 Main Street, Springfield", None, "in_person"),
        (None, "https://video.example.com/x", "video"),
        (None, None, None),
    ],
)
def test_location_kind(location: str | None, url: str | None, kind: str | None) -> None:
    assert location_kind(location, url) == kind


def test_iso_utc_refuses_naive_datetimes() -> None:
    assert iso_utc(datetime(2024, 1, 1, 12, tzinfo=UTC)) == "2024-01-01T12:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2024, 1, 1, 12))  # noqa: DTZ001 - the point of the test


# --- API v2 bookings (catch-up sweep) -----------------------------------------------------


def test_api_booking_to_change() -> None:
    change = booking_to_change(load("api-v2-booking"))
    assert change is not None
    assert change.external_id == "api-booking-uid"
    assert (change.event, change.create, change.status) == ("synced", True, "confirmed")
    assert change.previous_external_id == "older-booking-uid"
    assert change.occurred_at == utc(2026, 2, 21, 10, 30)
    assert change.start_at == utc(2026, 3, 2, 9, 0)
    assert change.end_at == utc(2026, 3, 2, 9, 45)
    assert change.timezone == "Europe/Rome"
    assert change.coach == Person(
        email="organizer@example.com",
        name="Organizer Name",
        timezone="Europe/Rome",
        external_id="7",
        username="organizer-handle",
    )
    assert change.attendee == Person("guest@example.com", "Guest User", "America/New_York")
    assert [g.email for g in change.guests] == ["Second@Example.com", "third@example.com"]
    assert change.kind == "video"
    assert change.meeting_url == "https://app.cal.com/video/api-booking-uid"
    assert change.notes == "Wants to talk about goals"
    assert change.attendance == Attendance(no_show=True)
    assert change.session_id == "3f1c2a9e-0000-4000-8000-000000000001"
    assert change.detail["bookingId"] == 321
    assert change.detail["iCalUID"] == "ics-uid-321@cal.com"
    assert change.cancelled_by is None


@pytest.mark.parametrize(
    ("api_status", "status"),
    [("accepted", "confirmed"), ("pending", "requested"), ("rejected", "rejected")],
)
def test_api_status_mapping(api_status: str, status: str) -> None:
    booking = load("api-v2-booking")
    booking["status"] = api_status
    change = booking_to_change(booking)
    assert change is not None
    assert change.status == status


def test_api_cancelled_booking() -> None:
    booking = load("api-v2-booking")
    booking.update(status="cancelled", cancellationReason="ill", cancelledByEmail="g@x.test")
    change = booking_to_change(booking)
    assert change is not None
    assert (change.status, change.cancellation_reason, change.cancelled_by) == (
        "cancelled",
        "ill",
        "g@x.test",
    )


def test_api_old_half_of_a_reschedule_is_skipped() -> None:
    booking = load("api-v2-booking")
    booking.update(status="cancelled", rescheduledToUid="newer-uid")
    assert booking_to_change(booking) is None


def test_api_booking_without_updated_at_uses_created_at() -> None:
    booking = copy.deepcopy(load("api-v2-booking"))
    booking["updatedAt"] = None
    change = booking_to_change(booking)
    assert change is not None
    assert change.occurred_at == utc(2026, 2, 20, 8, 0)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("uid", None, "booking.uid"),
        ("end", "2026-03-02T08:00:00Z", "booking.end is before booking.start"),
        ("start", "soon", "booking.start"),
    ],
)
def test_api_invalid_bookings(field: str, value: object, reason: str) -> None:
    booking = load("api-v2-booking")
    booking[field] = value
    with pytest.raises(InvalidPayload, match=reason):
        booking_to_change(booking)
