"""Pure translations: session → Graph event body, Graph items → CalendarEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SessionView
from connectors.errors import InvalidPayload
from connectors.outlook import event_body, to_calendar_event, transaction_id
from connectors.outlook.const import PROPERTY_ID
from connectors.outlook.mapping import local_time, version_of

FIXTURES = Path(__file__).parent / "fixtures"
SESSION_ID = "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
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
        "meeting_url": "https://meet.x.test/r?a=1&b=2",
        **extra,
    }
    return SessionView(**fields)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_property_id_and_transaction_id() -> None:
    assert PROPERTY_ID == "String {66f5a359-4659-4638-81f9-9bdc6a1e1a1c} Name SessionHubTag"
    assert transaction_id(SESSION_ID) == SESSION_ID


def test_event_body_in_the_sessions_local_time() -> None:
    body = event_body(session(location="Room 1"), {})
    assert body["subject"] == "Coaching"
    assert body["start"] == {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Rome"}
    assert body["end"] == {"dateTime": "2026-03-02T11:00:00", "timeZone": "Europe/Rome"}
    assert body["location"] == {"displayName": "Room 1"}
    assert body["allowNewTimeProposals"] is False
    assert body["body"]["contentType"] == "HTML"
    assert 'href="https://meet.x.test/r?a=1&amp;b=2"' in body["body"]["content"]
    assert body["singleValueExtendedProperties"] == [
        {"id": PROPERTY_ID, "value": f"{SESSION_ID}:3"}
    ]
    assert "attendees" not in body
    assert "transactionId" not in body


def test_create_carries_the_transaction_id_and_invites_when_asked() -> None:
    body = event_body(session(), {"invite_attendee": "true"}, create=True)
    assert body["transactionId"] == SESSION_ID
    assert body["attendees"] == [
        {"emailAddress": {"address": "client@x.test", "name": "Client"}, "type": "required"}
    ]


def test_local_time_across_dst_and_unknown_zones() -> None:
    summer = datetime(2026, 7, 1, 16, 30, tzinfo=UTC)
    assert local_time(summer, "America/New_York") == {
        "dateTime": "2026-07-01T12:30:00",
        "timeZone": "America/New_York",
    }
    assert local_time(summer, "Not/AZone") == {"dateTime": "2026-07-01T16:30:00", "timeZone": "UTC"}
    with pytest.raises(ValueError, match="naive"):
        local_time(datetime(2026, 7, 1), "UTC")  # noqa: DTZ001 - the case under test


def test_a_tagged_event_reads_back() -> None:
    event = to_calendar_event("cal-1", fixture("event-tagged"))
    assert event.id == "AAMkAGI2TG93AAA="
    assert event.calendar_id == "cal-1"
    assert event.cancelled is False
    assert (event.start_at, event.end_at) == (START, END)
    assert event.start_at is not None
    assert event.start_at.tzinfo is not None
    assert event.busy is True
    assert event.etag == "DwAAABYAAAB0hJz8vZg3SaQ4eNnnT+T3AAAQ1Yl9"
    assert event.updated == datetime(2026, 3, 1, 8, 5, 10, 765432, tzinfo=UTC)
    assert (event.session_id, event.hub_version) == (SESSION_ID, 3)
    assert event.title == "Coaching"


def test_round_trip_of_the_hubs_body() -> None:
    body = event_body(session(), {}, create=True)
    # Graph answers in UTC (Prefer: outlook.timezone="UTC") with its own id and changeKey
    item = {**body, "id": "E1", "changeKey": "ck1"}
    item["start"] = {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}
    item["end"] = {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"}
    event = to_calendar_event("cal", item)
    assert (event.start_at, event.end_at) == (START, END)
    assert (event.session_id, event.hub_version, event.etag) == (SESSION_ID, 3, "ck1")


def test_removed_items_of_a_delta_page() -> None:
    page = fixture("delta-removed")["value"]
    removed, kept = (to_calendar_event("cal", i) for i in page)
    assert removed.cancelled is True
    assert removed.busy is False
    assert removed.start_at is None
    assert kept.cancelled is False
    assert kept.start_at == datetime(2016, 12, 25, 6, 0, tzinfo=UTC)
    assert kept.etag == "EZ9r3czxY0m2jz8c45czkwAALZu97w=="  # from @odata.etag
    assert kept.session_id is None  # delta does not expand extended properties


def test_a_zone_other_than_utc_is_converted() -> None:
    item = {
        "id": "E",
        "start": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "Europe/Rome"},
        "end": {"dateTime": "2026-03-02T11:00:00", "timeZone": "Europe/Rome"},
    }
    event = to_calendar_event("cal", item)
    assert (event.start_at, event.end_at) == (START, END)
    windows = {"id": "E", "start": {"dateTime": "2026-03-02T10:00:00", "timeZone": "W. Europe"}}
    with pytest.raises(InvalidPayload, match="unknown time zone"):
        to_calendar_event("cal", windows)


@pytest.mark.parametrize(
    ("extra", "cancelled", "busy"),
    [
        ({"isCancelled": True}, True, False),
        ({"showAs": "free"}, False, False),
        ({"showAs": "tentative"}, False, True),
        ({"responseStatus": {"response": "declined"}}, False, False),
    ],
)
def test_cancelled_and_free_events(extra: dict[str, Any], cancelled: bool, busy: bool) -> None:
    event = to_calendar_event("cal", {"id": "E", **extra})
    assert (event.cancelled, event.busy) == (cancelled, busy)


def test_all_day_and_odd_tags() -> None:
    item = {
        "id": "E",
        "isAllDay": True,
        "singleValueExtendedProperties": [{"id": PROPERTY_ID.lower(), "value": "abc:x"}],
    }
    event = to_calendar_event("cal", item)
    assert event.all_day is True
    assert (event.session_id, event.hub_version) == ("abc", None)


def test_version_markers_and_missing_ids() -> None:
    assert version_of({"@odata.etag": 'W/"abc"'}) == "abc"
    assert version_of({}) is None
    with pytest.raises(InvalidPayload, match="without an id"):
        to_calendar_event("cal", {"subject": "x"})
    with pytest.raises(InvalidPayload, match="not an ISO time"):
        to_calendar_event("cal", {"id": "E", "lastModifiedDateTime": "yesterday"})
