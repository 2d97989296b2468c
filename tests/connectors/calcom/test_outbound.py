"""The Cal.com writer: lookup before create, reschedule only on a time change, cancel/decline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses

from connectors.base import LinkState, SessionView
from connectors.calcom.client import CalcomClient
from connectors.calcom.outbound import SESSION_KEY, CalcomOutbound
from connectors.errors import PermanentError

API = "http://cal.test/v2"
START = datetime(2030, 5, 1, 9, tzinfo=UTC)


def view(**fields: object) -> SessionView:
    base: dict[str, object] = dict(
        id="3f1c2a9e-0000-4000-8000-000000000001",
        version=2,
        status="confirmed",
        title="Coaching",
        start_at=START,
        end_at=START + timedelta(minutes=45),
        timezone="Europe/Paris",
        kind="video",
        coach_email="c@example.com",
        coach_name="Coach",
        attendee_email="a@example.com",
        attendee_name="Ann",
        coach_settings={"calcom_event_type_id": 77},
    )
    base.update(fields)
    return SessionView(**base)  # type: ignore[arg-type]


@pytest.fixture
def writer() -> CalcomOutbound:
    return CalcomOutbound(CalcomClient("cal_key", API, sleep=lambda _: None))


def ok(data: object) -> dict[str, object]:
    return {"status": "success", "data": data}


@responses.activate
def test_create_books_with_our_metadata(writer: CalcomOutbound) -> None:
    responses.get(f"{API}/bookings", json=ok([]))
    responses.post(
        f"{API}/bookings",
        status=201,
        json=ok({"uid": "new-uid", "status": "accepted", "updatedAt": "2030-04-01T00:00:00Z"}),
    )
    result = writer.create(view())
    assert (result.external_id, result.remote_version) == ("new-uid", "2030-04-01T00:00:00Z")
    sent = json.loads(responses.calls[1].request.body or b"{}")
    assert sent["eventTypeId"] == 77
    assert sent["lengthInMinutes"] == 45
    assert sent["metadata"] == {SESSION_KEY: "3f1c2a9e-0000-4000-8000-000000000001"}
    assert "attendeeEmail=a%40example.com" in (responses.calls[0].request.url or "")


@responses.activate
def test_create_after_a_crash_finds_the_booking_instead_of_booking_twice(
    writer: CalcomOutbound,
) -> None:
    mine = {"uid": "kept", "metadata": {SESSION_KEY: view().id}}
    responses.get(f"{API}/bookings", json=ok([{"uid": "other", "metadata": {}}, mine]))
    assert writer.create(view()).external_id == "kept"
    assert [c.request.method for c in responses.calls] == ["GET"]


def test_create_without_an_event_type_is_refused(writer: CalcomOutbound) -> None:
    with pytest.raises(PermanentError, match="event type"):
        writer.create(view(coach_settings={}))


@responses.activate
def test_update_reschedules_only_when_the_time_moved(writer: CalcomOutbound) -> None:
    link = LinkState("old-uid")
    responses.get(
        f"{API}/bookings/old-uid",
        json=ok({"uid": "old-uid", "status": "accepted", "start": "2030-05-01T09:00:00.000Z"}),
    )
    assert writer.update(view(), link).external_id == "old-uid"
    assert len(responses.calls) == 1
    responses.post(
        f"{API}/bookings/old-uid/reschedule",
        status=201,
        json=ok({"uid": "moved-uid", "status": "accepted"}),
    )
    moved = writer.update(
        view(start_at=START + timedelta(days=1), end_at=START + timedelta(days=1, minutes=45)), link
    )
    assert moved.external_id == "moved-uid"
    assert json.loads(responses.calls[-1].request.body or b"{}")["start"] == "2030-05-02T09:00:00Z"


@responses.activate
def test_update_confirms_a_pending_booking(writer: CalcomOutbound) -> None:
    responses.get(
        f"{API}/bookings/p",
        json=ok({"uid": "p", "status": "pending", "start": "2030-05-01T09:00:00Z"}),
    )
    responses.post(f"{API}/bookings/p/confirm", json=ok({"uid": "p", "status": "accepted"}))
    assert writer.update(view(), LinkState("p")).data == {"status": "accepted"}


@responses.activate
def test_delete_cancels_or_declines_and_accepts_already_gone(writer: CalcomOutbound) -> None:
    responses.post(f"{API}/bookings/c/cancel", json=ok({"uid": "c"}))
    writer.delete(view(status="cancelled", cancellation_reason="ill"), LinkState("c"))
    assert json.loads(responses.calls[-1].request.body or b"{}") == {"cancellationReason": "ill"}
    responses.post(f"{API}/bookings/r/decline", json=ok({"uid": "r"}))
    writer.delete(view(status="rejected"), LinkState("r"))
    responses.post(f"{API}/bookings/gone/cancel", status=404, json={"status": "error"})
    writer.delete(view(status="cancelled"), LinkState("gone"))
    responses.post(
        f"{API}/bookings/twice/cancel",
        status=400,
        json={"status": "error", "error": {"message": "This booking has already been cancelled."}},
    )
    writer.delete(view(status="cancelled"), LinkState("twice"))
    responses.post(
        f"{API}/bookings/bad/cancel",
        status=400,
        json={"status": "error", "error": {"message": "Invalid reason"}},
    )
    with pytest.raises(PermanentError):
        writer.delete(view(status="cancelled"), LinkState("bad"))


@responses.activate
def test_create_books_at_the_sessions_own_room(writer: CalcomOutbound) -> None:
    """Without a location Cal.com opens a Cal Video room: a second room for the session."""
    responses.get(f"{API}/bookings", json=ok([]))
    responses.post(f"{API}/bookings", status=201, json=ok({"uid": "u", "status": "accepted"}))
    writer.create(view(meeting_url="https://hub.daily.co/hub-1"))
    sent = json.loads(responses.calls[1].request.body or b"{}")
    assert sent["location"] == {"type": "link", "link": "https://hub.daily.co/hub-1"}
    writer.create(view(meeting_url=None, kind="in_person"))
    assert "location" not in json.loads(responses.calls[3].request.body or b"{}")


@responses.activate
def test_delete_after_a_lost_create_answer_finds_the_booking(writer: CalcomOutbound) -> None:
    mine = {"uid": "made", "metadata": {SESSION_KEY: view().id}}
    responses.get(f"{API}/bookings", json=ok([mine]))
    responses.post(f"{API}/bookings/made/cancel", json=ok({"uid": "made", "status": "cancelled"}))
    writer.delete(view(status="cancelled"), LinkState(None))
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]
    responses.replace(responses.GET, f"{API}/bookings", json=ok([]))
    writer.delete(view(status="cancelled"), LinkState(None))  # nothing was made: nothing to do
    assert len(responses.calls) == 3
