"""Pure mapping: deterministic event ids, the event body, and events.list items.

fixtures/events.list-incremental.json is the shared recorded page
(/work/shared/payloads/google) with the hub's tag renamed to the keys the connector writes
(`sessionhub_session_id`, `sessionhub_version`) and three items added: all-day, transparent,
and declined by the account itself.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SessionView
from connectors.calendar import CalendarEvent
from connectors.errors import InvalidPayload
from connectors.google.mapping import event_body, event_id, flag, to_calendar_event

FIXTURES = Path(__file__).parent / "fixtures"
SESSION_ID = "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
EVENT_ID = "9sl9o7jr7l78v6jb3gmjsjqqdc"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def session(**extra: Any) -> SessionView:
    fields: dict[str, Any] = {
        "id": SESSION_ID,
        "version": 3,
        "status": "confirmed",
        "title": "Coaching",
        "start_at": START,
        "end_at": END,
        "timezone": "Europe/Rome",
        "kind": "video",
        "coach_email": "coach@x.test",
        "coach_name": "Coach",
        "attendee_email": "client@x.test",
        "attendee_name": "Client",
        **extra,
    }
    return SessionView(**fields)


def items() -> dict[str, dict[str, Any]]:
    page = json.loads((FIXTURES / "events.list-incremental.json").read_text())
    return {item["id"]: item for item in page["response"]["items"]}


# --- event ids ----------------------------------------------------------------------------


def test_event_id_is_base32hex_of_the_uuid_bytes() -> None:
    assert event_id(SESSION_ID) == EVENT_ID
    # Google: 5-1024 characters of a-v and 0-9
    assert re.fullmatch(r"[a-v0-9]{26}", EVENT_ID)


def test_event_id_is_deterministic_and_distinct() -> None:
    assert event_id(SESSION_ID.upper()) == event_id(SESSION_ID)
    assert event_id(f"{{{SESSION_ID}}}") == EVENT_ID
    ids = {event_id(str(uuid.UUID(int=n))) for n in range(500)}
    ids |= {event_id(str(uuid.uuid4())) for _ in range(500)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[a-v0-9]{26}", i) for i in ids)


def test_event_id_refuses_a_non_uuid() -> None:
    with pytest.raises(ValueError, match="hexadecimal UUID"):
        event_id("not-a-uuid")


# --- event body ---------------------------------------------------------------------------


def test_event_body() -> None:
    body = event_body(session(meeting_url="https://hub.daily.co/r", location="Room 4"), {})
    assert body == {
        "summary": "Coaching",
        "description": (
            "Join: https://hub.daily.co/r\n\n"
            "Scheduled with SessionHub; changes made here may be overwritten."
        ),
        "start": {"dateTime": "2026-03-02T09:00:00+00:00", "timeZone": "Europe/Rome"},
        "end": {"dateTime": "2026-03-02T10:00:00+00:00", "timeZone": "Europe/Rome"},
        "location": "Room 4",
        "extendedProperties": {
            "private": {"sessionhub_session_id": SESSION_ID, "sessionhub_version": "3"}
        },
        "reminders": {"useDefault": True},
    }


def test_event_body_defaults() -> None:
    body = event_body(session(title="", attendee_name=""), {"invite_attendee": False})
    assert body["summary"] == "Session with client@x.test"
    assert body["description"] == "Scheduled with SessionHub; changes made here may be overwritten."
    assert body["location"] == ""  # a patch clears a location the session dropped
    assert "attendees" not in body  # a patch leaves the calendar's attendees alone


def test_event_body_converts_other_offsets_to_utc() -> None:
    start = datetime.fromisoformat("2026-03-02T10:00:00+01:00")
    body = event_body(session(start_at=start), {})
    assert body["start"]["dateTime"] == "2026-03-02T09:00:00+00:00"


@pytest.mark.parametrize("invite", [True, "true", "1"])
def test_event_body_invites_the_attendee_when_asked(invite: object) -> None:
    body = event_body(session(), {"invite_attendee": invite})
    assert body["attendees"] == [{"email": "client@x.test", "displayName": "Client"}]


def test_event_body_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        event_body(session(start_at=datetime(2026, 3, 2, 9)), {})  # noqa: DTZ001


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("", False), (0, False)])
def test_flag_false(value: object, expected: bool) -> None:
    assert flag(value) is expected


# --- events.list items --------------------------------------------------------------------


def test_our_tagged_event() -> None:
    assert to_calendar_event("primary", items()[EVENT_ID]) == CalendarEvent(
        id=EVENT_ID,
        calendar_id="primary",
        cancelled=False,
        start_at=datetime(2026, 1, 10, 14, 30, tzinfo=UTC),
        end_at=datetime(2026, 1, 10, 14, 45, tzinfo=UTC),
        all_day=False,
        busy=True,
        etag='"3470015214236000"',
        updated=datetime(2026, 1, 8, 10, 3, 27, 118000, tzinfo=UTC),
        title="Strategy Session",
        session_id=SESSION_ID,
        hub_version=7,
    )


def test_cancelled_item_with_only_an_id() -> None:
    event = to_calendar_event("primary", items()["0a1b2c3d4e5f6g7h8i9j"])
    assert event == CalendarEvent(
        id="0a1b2c3d4e5f6g7h8i9j",
        calendar_id="primary",
        cancelled=True,
        busy=False,
        etag='"3470015299012000"',
    )


def test_all_day_event_is_midnight_utc() -> None:
    event = to_calendar_event("primary", items()["allday0001"])
    assert event.all_day is True
    assert event.start_at == datetime(2026, 1, 12, tzinfo=UTC)
    assert event.end_at == datetime(2026, 1, 14, tzinfo=UTC)
    assert event.busy is True
    assert event.session_id is None
    assert event.hub_version is None


def test_transparent_event_is_not_busy() -> None:
    event = to_calendar_event("primary", items()["transparent0001"])
    assert event.busy is False
    assert event.start_at == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    assert event.start_at.tzinfo is UTC


def test_event_the_account_declined_is_not_busy() -> None:
    event = to_calendar_event("primary", items()["declined0001"])
    assert event.busy is False
    assert event.cancelled is False


def test_every_recorded_item_maps() -> None:
    events = [to_calendar_event("primary", item) for item in items().values()]
    assert [e.busy for e in events] == [True, False, True, False, False]
    for e in events:
        for value in (e.start_at, e.end_at, e.updated):
            assert value is None or value.utcoffset() is not None


def test_other_tag_names_are_not_the_hubs() -> None:
    """The shared recording tags `hub_session_id`; only the connector's own keys count."""
    private = {"hub_session_id": "4f2a9c", "hub_write_version": "7"}
    event = to_calendar_event("c", {"id": "x1", "extendedProperties": {"private": private}})
    assert event.session_id is None
    assert event.hub_version is None


def test_wall_time_without_offset_is_read_in_its_zone() -> None:
    item = {"id": "x1", "start": {"dateTime": "2026-07-01T09:00:00", "timeZone": "Europe/Rome"}}
    assert to_calendar_event("c", item).start_at == datetime(2026, 7, 1, 7, tzinfo=UTC)


def test_bad_items_are_invalid_payloads() -> None:
    with pytest.raises(InvalidPayload):
        to_calendar_event("c", {"status": "cancelled"})
    with pytest.raises(InvalidPayload):
        to_calendar_event("c", {"id": "x1", "start": {"dateTime": "yesterday"}})


def test_unreadable_version_tag_is_none() -> None:
    item = {"id": "x1", "extendedProperties": {"private": {"sessionhub_version": "v7"}}}
    assert to_calendar_event("c", item).hub_version is None
