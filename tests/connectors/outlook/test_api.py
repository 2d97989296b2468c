"""Graph REST for one mailbox: headers, calendars, delta feed, subscriptions, free/busy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from connectors.calendar import SyncCursorExpired
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.outlook import OutlookCalendarApi
from connectors.outlook.const import EXPAND_TAG

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://graph.test/v1.0"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
DELTA = f"{API}/me/calendars/cal-1/calendarView/delta"
PREFER = 'IdType="ImmutableId", outlook.timezone="UTC"'


def make_api(sleeps: list[float] | None = None) -> OutlookCalendarApi:
    record = sleeps if sleeps is not None else []
    return OutlookCalendarApi(
        "access-token", API, mailbox="test-mailbox", clock=lambda: NOW, sleep=record.append
    )


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


def test_every_call_sends_bearer_and_both_preferences(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/me", json={"mail": None, "userPrincipalName": "coach@contoso.test"})
    assert make_api().account_email() == "coach@contoso.test"
    sent = rsps.calls[0].request.headers
    assert sent["Authorization"] == "Bearer access-token"
    assert sent["Prefer"] == PREFER


def test_account_email_prefers_mail(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/me", json={"mail": "c@x.test", "userPrincipalName": "upn@x.test"})
    assert make_api().account_email() == "c@x.test"


def test_list_calendars_follows_next_links(rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/me/calendars",
        json={
            "value": [{"id": "c1", "name": "Calendar", "isDefaultCalendar": True, "canEdit": True}],
            "@odata.nextLink": f"{API}/me/calendars?$skip=1",
        },
    )
    rsps.get(
        f"{API}/me/calendars?$skip=1",
        json={"value": [{"id": "c2", "name": "Holidays", "canEdit": False}]},
    )
    calendars = make_api().list_calendars()
    assert [(c.id, c.name, c.primary, c.writable) for c in calendars] == [
        ("c1", "Calendar", True, True),
        ("c2", "Holidays", False, False),
    ]


def test_changes_follow_next_links_to_the_delta_link(rsps: responses.RequestsMock) -> None:
    window = {"startDateTime": "2026-03-01T00:00:00Z", "endDateTime": "2026-04-01T00:00:00Z"}
    next_link = f"{DELTA}?$skiptoken=page2"
    rsps.get(
        DELTA,
        match=[matchers.query_param_matcher(window)],
        json={"value": [fixture("event-tagged")], "@odata.nextLink": next_link},
    )
    rsps.get(next_link, json=fixture("delta-removed"))
    page = make_api().changes("cal-1", None, WINDOW)
    assert [e.id for e in page.events] == [
        "AAMkAGI2TG93AAA=",
        "AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA=",
        "AAMkADj1HvAAA=",
    ]
    assert [e.cancelled for e in page.events] == [False, True, False]
    assert page.cursor == fixture("delta-removed")["@odata.deltaLink"]


def test_a_cursor_is_the_delta_link_itself(rsps: responses.RequestsMock) -> None:
    link = f"{DELTA}?$deltatoken=abc"
    new_link = f"{DELTA}?$deltatoken=def"
    rsps.get(link, json={"value": [], "@odata.deltaLink": new_link})
    page = make_api().changes("cal-1", link, WINDOW)
    assert page == type(page)((), new_link)
    assert rsps.calls[0].request.url == link  # the window is not sent again


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (410, {"error": {"code": "Gone"}}),
        (400, {"error": {"code": "syncStateNotFound", "message": "x"}}),
        (400, {"error": {"code": "resyncRequired"}}),
    ],
)
def test_an_expired_delta_link(
    rsps: responses.RequestsMock, status: int, error: dict[str, Any]
) -> None:
    link = f"{DELTA}?$deltatoken=old"
    rsps.get(link, status=status, json=error)
    with pytest.raises(SyncCursorExpired):
        make_api().changes("cal-1", link, WINDOW)


def test_other_delta_errors_stay_errors(rsps: responses.RequestsMock) -> None:
    rsps.get(DELTA, status=400, json={"error": {"code": "ErrorInvalidParameter"}})
    with pytest.raises(PermanentError, match="ErrorInvalidParameter") as caught:
        make_api().changes("cal-1", None, WINDOW)
    assert not isinstance(caught.value, SyncCursorExpired)


def test_a_link_to_another_host_is_refused(rsps: responses.RequestsMock) -> None:
    with pytest.raises(PermanentError, match="another host"):
        make_api().changes("cal-1", "https://evil.test/v1.0/me?$deltatoken=x", WINDOW)
    assert len(rsps.calls) == 0  # the token never left


def test_429_waits_for_retry_after(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/me", status=429, headers={"Retry-After": "3"})
    rsps.get(f"{API}/me", json={"mail": "c@x.test"})
    sleeps: list[float] = []
    assert make_api(sleeps).account_email() == "c@x.test"
    assert sleeps == [3.0]


def test_401_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/me", status=401, json={"error": {"code": "InvalidAuthenticationToken"}})
    with pytest.raises(AuthError):
        make_api().account_email()


def test_watch_caps_the_expiry_and_reads_the_granted_one(rsps: responses.RequestsMock) -> None:
    granted = "2026-03-03T10:00:00.0000000Z"
    rsps.post(
        f"{API}/subscriptions",
        status=201,
        json={
            "id": "sub-1",
            "resource": "/me/calendars/cal-1/events",
            "expirationDateTime": granted,
        },
    )
    channel = make_api().watch(
        "cal-1",
        "ours",
        "client-state",
        "https://hub.test/webhooks/outlook",
        NOW + timedelta(days=7),
    )
    assert channel.id == "sub-1"
    assert channel.resource_id == "/me/calendars/cal-1/events"
    assert channel.expires_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    sent = json.loads(rsps.calls[0].request.body or b"")
    assert sent == {
        "changeType": "created,updated,deleted",
        "notificationUrl": "https://hub.test/webhooks/outlook",
        "lifecycleNotificationUrl": "https://hub.test/webhooks/outlook",
        "resource": "/me/calendars/cal-1/events",
        "expirationDateTime": "2026-03-04T10:30:00Z",  # now + 4230 minutes
        "clientState": "client-state",
    }


def test_watch_keeps_a_shorter_expiry(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/subscriptions", status=201, json={"id": "sub-1"})
    channel = make_api().watch("c", "ours", "s", "https://h.test/x", NOW + timedelta(hours=1))
    assert channel.expires_at == NOW + timedelta(hours=1)


def test_watch_is_not_repeated_after_a_lost_answer(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/subscriptions", status=503)
    with pytest.raises(TransientError, match="503"):
        make_api().watch("c", "ours", "s", "https://h.test/x", NOW + timedelta(hours=1))
    assert len(rsps.calls) == 1


def test_renew_reauthorize_and_stop(rsps: responses.RequestsMock) -> None:
    rsps.patch(f"{API}/subscriptions/sub-1", json={"expirationDateTime": "2026-03-02T12:00:00Z"})
    rsps.post(f"{API}/subscriptions/sub-1/reauthorize", status=204)
    rsps.delete(f"{API}/subscriptions/sub-1", status=204)
    rsps.delete(f"{API}/subscriptions/gone", status=404, json={"error": {"code": "NotFound"}})
    api = make_api()
    assert api.renew("sub-1", NOW + timedelta(days=1)) == NOW + timedelta(days=1)
    assert json.loads(rsps.calls[0].request.body or b"") == {
        "expirationDateTime": "2026-03-02T12:00:00Z"
    }
    api.reauthorize("sub-1")
    api.stop("sub-1", "/me/calendars/c/events")
    api.stop("gone", "/me/calendars/c/events")


def test_one_event_with_its_tag(rsps: responses.RequestsMock) -> None:
    url = f"{API}/me/calendars/cal-1/events/AAMkAGI2TG93AAA="
    rsps.get(
        url,
        match=[matchers.query_param_matcher({"$expand": EXPAND_TAG})],
        json=fixture("event-tagged"),
    )
    rsps.get(f"{API}/me/calendars/cal-1/events/gone", status=404)
    api = make_api()
    event = api.event("cal-1", "AAMkAGI2TG93AAA=")
    assert event is not None
    assert event.session_id == "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
    assert api.event("cal-1", "gone") is None


def test_free_busy(rsps: responses.RequestsMock) -> None:
    def slot(start: str, end: str, status: str = "busy") -> dict[str, Any]:
        return {
            "status": status,
            "start": {"dateTime": start, "timeZone": "UTC"},
            "end": {"dateTime": end, "timeZone": "UTC"},
        }

    items = [
        slot("2026-03-02T09:00:00.0000000", "2026-03-02T10:00:00.0000000"),
        slot("2026-03-02T09:30:00.0000000", "2026-03-02T11:00:00.0000000", "tentative"),
        slot("2026-03-02T12:00:00.0000000", "2026-03-02T13:00:00.0000000", "free"),
    ]
    rsps.post(f"{API}/me/calendar/getSchedule", json={"value": [{"scheduleItems": items}]})
    busy = make_api().free_busy(["c@x.test"], WINDOW[0], WINDOW[1])
    assert busy == [
        (datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 11, tzinfo=UTC)),
    ]
    sent = json.loads(rsps.calls[0].request.body or b"")
    assert sent["startTime"] == {"dateTime": "2026-03-01T00:00:00", "timeZone": "UTC"}
