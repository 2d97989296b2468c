"""The Cal.com sandbox: webhooks the hub's verifier accepts, API v2 through the hub's own client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.calcom.client import CalcomClient
from connectors.calcom.webhook import parse, verify
from connectors.errors import AuthError, NotFound, PermanentError
from connectors.sandbox import RunningSandbox
from tests.connectors.sandbox.conftest import CALCOM_KEY, CALCOM_SECRET, Api, HubStub

START = "2030-01-07T10:00:00Z"
END = "2030-01-07T11:00:00Z"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GUEST = {"name": "Guest User", "email": "guest@example.com", "timeZone": "Europe/Rome"}


@pytest.fixture
def cal(sandbox: RunningSandbox, http: requests.Session) -> CalcomClient:
    return CalcomClient(CALCOM_KEY, sandbox.calcom_api_url, session=http, sleep=lambda _: None)


def book(api: Api, **extra: object) -> dict[str, object]:
    body = {"start": START, "end": END, "attendee": GUEST, **extra}
    resp = api.control("POST", "/calcom/bookings", json=body)
    assert resp.status_code == 201, resp.text
    booking: dict[str, object] = resp.json()["booking"]
    return booking


def test_booking_created_is_signed_for_the_hubs_verifier(
    api: Api, hub: HubStub, sandbox: RunningSandbox
) -> None:
    booking = book(api, metadata={"sessionhub_session_id": "s-1"})
    [got] = hub.of("calcom")
    verify(got.headers, got.raw, [CALCOM_SECRET])
    assert got.headers["x-cal-webhook-version"] == "2021-10-20"
    body = got.body
    assert body["triggerEvent"] == "BOOKING_CREATED"
    assert ISO_MS.match(body["createdAt"])
    p = body["payload"]
    assert (p["uid"], p["status"], p["iCalSequence"]) == (booking["uid"], "ACCEPTED", 0)
    assert (p["startTime"], p["endTime"], p["length"]) == (START, END, 60)
    assert p["attendees"][0]["email"] == "guest@example.com"
    assert p["metadata"]["sessionhub_session_id"] == "s-1"
    assert p["videoCallData"]["type"] == "daily_video"
    assert p["videoCallData"]["id"] in sandbox.state.rooms  # Cal Video made a Daily room
    [change] = parse(got.raw, got.headers).changes
    assert (change.external_id, change.event, change.session_id) == (p["uid"], "created", "s-1")


def test_requires_confirmation_requests_then_confirm_creates(
    api: Api, hub: HubStub, cal: CalcomClient
) -> None:
    booking = book(api, requires_confirmation=True)
    assert hub.of("calcom")[0].body["payload"]["status"] == "PENDING"
    assert hub.of("calcom")[0].body["triggerEvent"] == "BOOKING_REQUESTED"
    assert cal.confirm_booking(str(booking["uid"]))["status"] == "accepted"
    assert hub.of("calcom")[1].body["triggerEvent"] == "BOOKING_CREATED"


def test_reschedule_issues_a_new_uid(api: Api, hub: HubStub, cal: CalcomClient) -> None:
    old = str(book(api)["uid"])
    resp = api.control(
        "POST", f"/calcom/bookings/{old}/reschedule", json={"start": "2030-01-08T09:00:00Z"}
    )
    assert resp.status_code == 201
    new = resp.json()["booking"]
    assert new["uid"] != old
    assert (new["rescheduledFromUid"], new["end"]) == (old, "2030-01-08T10:00:00.000Z")
    moved = hub.of("calcom")[-1]
    verify(moved.headers, moved.raw, [CALCOM_SECRET])
    p = moved.body["payload"]
    assert moved.body["triggerEvent"] == "BOOKING_RESCHEDULED"
    assert (p["uid"], p["rescheduleUid"], p["iCalSequence"]) == (new["uid"], old, 1)
    assert (p["rescheduleStartTime"], p["startTime"]) == (START, "2030-01-08T09:00:00Z")
    [change] = parse(moved.raw, moved.headers).changes
    assert change.previous_external_id == old
    before = cal.get_booking(old)
    assert (before["status"], before["rescheduledToUid"]) == ("cancelled", new["uid"])


def test_a_lost_webhook_is_still_listed_by_updated_at(
    api: Api, hub: HubStub, sandbox: RunningSandbox, cal: CalcomClient
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    uid = book(api, deliver=False)["uid"]
    assert hub.of("calcom") == []
    [held] = sandbox.state.deliveries("calcom")
    assert (held.result, held.error) == ("suppressed", "deliver=false")
    assert [b["uid"] for b in cal.list_bookings(since)] == [uid]
    assert list(cal.list_bookings(datetime.now(UTC) + timedelta(seconds=5))) == []


def test_list_pages_with_take_and_skip(
    api: Api, cal: CalcomClient, sandbox: RunningSandbox
) -> None:
    uids = [book(api, deliver=False)["uid"] for _ in range(5)]
    assert [b["uid"] for b in cal.list_bookings(take=2)] == uids
    assert sandbox.state.count("calcom", "GET", "/bookings") == 3  # pages of 2, 2, 1
    resp = api.calcom("GET", "/bookings", params={"take": 2, "skip": 4, "sortUpdatedAt": "desc"})
    assert resp.json()["pagination"]["hasPreviousPage"] is True
    assert [b["uid"] for b in resp.json()["data"]] == [uids[0]]
    assert api.calcom("GET", "/bookings", params={"take": 251}).status_code == 400


def test_hub_client_create_cancel_and_webhooks(cal: CalcomClient, hub: HubStub) -> None:
    made = cal.create_booking(
        start=datetime(2030, 2, 1, 9, tzinfo=UTC),
        event_type_id=7,
        attendee_name="Ann Client",
        attendee_email="ann@example.com",
        attendee_time_zone="UTC",
        length_in_minutes=45,
        metadata={"sessionhub_session_id": "s-9"},
    )
    assert (made["status"], made["end"], made["eventTypeId"]) == (
        "accepted",
        "2030-02-01T09:45:00.000Z",
        7,
    )
    assert made["metadata"] == {"sessionhub_session_id": "s-9"}
    cancelled = cal.cancel_booking(made["uid"], "coach ill")
    assert (cancelled["status"], cancelled["cancellationReason"]) == ("cancelled", "coach ill")
    created, gone = (r.body for r in hub.of("calcom"))
    assert created["payload"]["metadata"]["sessionhub_session_id"] == "s-9"
    assert (gone["triggerEvent"], gone["payload"]["iCalSequence"]) == ("BOOKING_CANCELLED", 1)
    assert gone["payload"]["startTime"] == "2030-02-01T09:00:00+00:00"
    with pytest.raises(PermanentError, match="already been cancelled"):
        cal.cancel_booking(made["uid"])


def test_hub_client_reschedule_decline_and_mark_absent(
    api: Api, cal: CalcomClient, hub: HubStub
) -> None:
    uid = str(book(api)["uid"])
    new = cal.reschedule_booking(uid, datetime(2030, 1, 9, 15, tzinfo=UTC), reason="clash")
    assert (new["rescheduledFromUid"], new["reschedulingReason"]) == (uid, "clash")
    marked = cal.mark_absent(new["uid"], attendees=[{"email": "guest@example.com", "absent": True}])
    assert marked["attendees"][0]["absent"] is True
    no_show = hub.of("calcom")[-1].body
    assert no_show["triggerEvent"] == "BOOKING_NO_SHOW_UPDATED"
    assert no_show["payload"]["bookingUid"] == new["uid"]
    assert no_show["payload"]["attendees"] == [{"email": "guest@example.com", "noShow": True}]
    pending = str(book(api, requires_confirmation=True)["uid"])
    assert cal.decline_booking(pending, "full")["status"] == "rejected"
    assert hub.of("calcom")[-1].body["payload"]["rejectionReason"] == "full"
    with pytest.raises(NotFound):
        cal.get_booking("no-such-uid")


def test_request_reschedule_cancel_deletes_the_cal_video_room(
    api: Api, hub: HubStub, sandbox: RunningSandbox
) -> None:
    booking = book(api)
    room = str(hub.of("calcom")[0].body["payload"]["videoCallData"]["id"])
    resp = api.control(
        "POST",
        f"/calcom/bookings/{booking['uid']}/cancel",
        json={"reason": "please pick another time", "request_reschedule": True},
    )
    assert resp.json()["booking"]["status"] == "cancelled"
    p = hub.of("calcom")[-1].body["payload"]
    assert (p["requestReschedule"], p["status"]) == (True, "CANCELLED")
    assert parse(hub.of("calcom")[-1].raw, {}).changes[0].status == "awaiting_reschedule"
    assert room not in sandbox.state.rooms


def test_slots_skip_booked_times(api: Api, cal: CalcomClient) -> None:
    book(api, deliver=False)
    days = cal.get_slots(1, datetime(2030, 1, 7, tzinfo=UTC), datetime(2030, 1, 7, 23, tzinfo=UTC))
    starts = [s["start"] for s in days["2030-01-07"]]
    assert "2030-01-07T09:30:00.000Z" in starts
    assert "2030-01-07T10:00:00.000Z" not in starts
    assert "2030-01-07T10:30:00.000Z" not in starts


def test_bad_key_is_refused(sandbox: RunningSandbox, http: requests.Session, api: Api) -> None:
    bad = CalcomClient("cal_wrong", sandbox.calcom_api_url, session=http)
    with pytest.raises(AuthError):
        bad.get_booking("x")
    resp = api.calcom("GET", "/bookings", headers={"Authorization": ""})
    assert resp.status_code == 401
    assert resp.json()["status"] == "error"
    assert resp.json()["error"]["code"] == "UnauthorizedException"
