"""Calendar API calls through googleapiclient, faked at httplib2 with Google's HttpMockSequence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence

from connectors.calendar import CalendarInfo, Channel, SyncCursorExpired
from connectors.errors import NotFound, PermanentError, TransientError
from connectors.google import GoogleCalendarApi
from connectors.google.calls import Caller

FIXTURES = Path(__file__).parent / "fixtures"
API = "http://127.0.0.1:8765/google"
TOKEN = "ya29.test-access-token"
WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))

Reply = tuple[dict[str, str], str]


def ok(body: Any, status: int = 200) -> Reply:
    return {"status": str(status), "content-type": "application/json"}, json.dumps(body)


def error(status: int, reason: str = "", message: str = "", **headers: str) -> Reply:
    detail = {"errors": [{"domain": "global", "reason": reason, "message": message}]}
    body = {"error": {"code": status, "message": message, **(detail if reason else {})}}
    return {"status": str(status), "content-type": "application/json", **headers}, json.dumps(body)


class Recorder:
    """An API over a scripted HttpMockSequence, with retries that do not sleep."""

    def __init__(self, *replies: Reply, api_url: str = API) -> None:
        self.http = HttpMockSequence(list(replies))
        self.sleeps: list[float] = []
        self.api = GoogleCalendarApi(
            TOKEN, api_url, http=self.http, caller=Caller(sleep=self.sleeps.append)
        )

    @property
    def calls(self) -> list[tuple[str, str, dict[str, list[str]], Any, dict[str, str]]]:
        """(method, URL path, query, JSON body, headers) of each request sent."""
        out = []
        for uri, method, body, headers in self.http.request_sequence:
            parts = urlsplit(uri)
            out.append(
                (
                    method,
                    f"{parts.scheme}://{parts.netloc}{parts.path}",
                    parse_qs(parts.query),
                    json.loads(body) if body else None,
                    headers,
                )
            )
        return out


# --- account and calendars ----------------------------------------------------------------


def test_account_email_is_the_primary_calendar_id_on_the_configured_host() -> None:
    r = Recorder(ok({"kind": "calendar#calendar", "id": "coach@example.com"}))
    assert r.api.account_email() == "coach@example.com"
    ((method, url, _, _, headers),) = r.calls
    assert (method, url) == ("GET", f"{API}/calendar/v3/calendars/primary")
    assert headers["authorization"] == f"Bearer {TOKEN}"


def test_default_host_is_googleapis() -> None:
    r = Recorder(ok({"id": "coach@example.com"}), api_url="")
    r.api.account_email()
    assert r.calls[0][1] == "https://www.googleapis.com/calendar/v3/calendars/primary"
    assert r.api.batch_uri == "https://www.googleapis.com/batch/calendar/v3"


def test_list_calendars_follows_pages() -> None:
    r = Recorder(
        ok(
            {
                "items": [
                    {"id": "coach@example.com", "summary": "Coach", "primary": True,
                     "accessRole": "owner"},
                    {"id": "team@group", "summary": "Team", "summaryOverride": "My team",
                     "accessRole": "writer"},
                ],
                "nextPageToken": "p2",
            }
        ),
        ok({"items": [{"id": "holidays@group", "summary": "Holidays", "accessRole": "reader"}]}),
    )  # fmt: skip
    assert r.api.list_calendars() == [
        CalendarInfo("coach@example.com", "Coach", primary=True, writable=True),
        CalendarInfo("team@group", "My team", primary=False, writable=True),
        CalendarInfo("holidays@group", "Holidays", primary=False, writable=False),
    ]
    assert "pageToken" not in r.calls[0][2]
    assert r.calls[1][2]["pageToken"] == ["p2"]


# --- change feed --------------------------------------------------------------------------


def recorded_page() -> dict[str, Any]:
    page: dict[str, Any] = json.loads((FIXTURES / "events.list-incremental.json").read_text())
    response: dict[str, Any] = page["response"]
    return response


def test_full_sync_reads_the_window_and_every_page() -> None:
    last = recorded_page()
    first = {"items": last["items"][:2], "nextPageToken": "page-2"}
    last = {**last, "items": last["items"][2:]}
    r = Recorder(ok(first), ok(last))
    page = r.api.changes("primary", None, WINDOW)
    assert len(page.events) == 5
    assert page.cursor == "CKjR8o3Ex70CEKjR8o3Ex70CGAU="
    (_, url, query, _, _), (_, _, second, _, _) = r.calls
    assert url == f"{API}/calendar/v3/calendars/primary/events"
    assert query["timeMin"] == ["2026-01-01T00:00:00+00:00"]
    assert query["timeMax"] == ["2026-04-01T00:00:00+00:00"]
    assert query["singleEvents"] == query["showDeleted"] == ["true"]
    assert query["maxResults"] == ["250"]
    assert "syncToken" not in query
    assert second["pageToken"] == ["page-2"]


def test_incremental_sync_sends_the_same_params_but_no_window() -> None:
    r = Recorder(ok(recorded_page()))
    page = r.api.changes("primary", "CPDAlvWDx70CEPDAlvWDx70CGAU=", WINDOW)
    assert page.cursor == "CKjR8o3Ex70CEKjR8o3Ex70CGAU="
    assert [e.id for e in page.events if e.cancelled] == ["0a1b2c3d4e5f6g7h8i9j"]
    query = r.calls[0][2]
    assert query["syncToken"] == ["CPDAlvWDx70CEPDAlvWDx70CGAU="]
    assert query["singleEvents"] == query["showDeleted"] == ["true"]
    assert query["maxResults"] == ["250"]
    for forbidden in ("timeMin", "timeMax", "orderBy", "updatedMin", "q", "iCalUID"):
        assert forbidden not in query


def test_expired_sync_token_needs_a_full_sync() -> None:
    r = Recorder(error(410, "fullSyncRequired", "Sync token is no longer valid"))
    with pytest.raises(SyncCursorExpired):
        r.api.changes("primary", "old-token", WINDOW)
    assert len(r.calls) == 1


def test_gone_calendar_without_cursor_is_not_found() -> None:
    r = Recorder(error(404, "notFound", "Not Found"))
    with pytest.raises(NotFound):
        r.api.changes("deleted@group", None, WINDOW)


# --- channels -----------------------------------------------------------------------------


def test_watch_sends_the_channel_and_reads_the_granted_expiry() -> None:
    recorded = json.loads((FIXTURES / "events.watch-request.json").read_text())["body"]
    r = Recorder(
        ok(
            {
                "kind": "api#channel",
                "id": recorded["id"],
                "resourceId": "o3hgv1538sdjfh",
                "resourceUri": "https://www.googleapis.com/calendar/v3/calendars/x/events",
                "token": recorded["token"],
                "expiration": "1426325213000",
            }
        )
    )
    asked = datetime.fromtimestamp(recorded["expiration"] / 1000 + 3600, UTC)
    channel = r.api.watch(
        "my_calendar@gmail.com", recorded["id"], recorded["token"], recorded["address"], asked
    )
    assert channel == Channel(
        id=recorded["id"],
        resource_id="o3hgv1538sdjfh",
        expires_at=datetime(2015, 3, 14, 9, 26, 53, tzinfo=UTC),
    )
    ((method, url, _, body, _),) = r.calls
    assert (method, url) == (
        "POST",
        f"{API}/calendar/v3/calendars/my_calendar%40gmail.com/events/watch",
    )
    assert body == {**recorded, "expiration": recorded["expiration"] + 3_600_000}


def test_watch_is_not_repeated_after_a_server_error() -> None:
    r = Recorder(error(503, "backendError"), ok({}))
    with pytest.raises(TransientError):
        r.api.watch("c", "ch", "tok", "https://hub/webhooks/google", WINDOW[1])
    assert len(r.calls) == 1


def test_watch_is_repeated_after_429() -> None:
    r = Recorder(error(429, "rateLimitExceeded"), ok({"id": "ch", "resourceId": "r1"}))
    channel = r.api.watch("c", "ch", "tok", "https://hub/webhooks/google", WINDOW[1])
    assert channel.expires_at == WINDOW[1]  # no expiration in the answer: what was asked
    assert len(r.calls) == 2


def test_stop_channel() -> None:
    r = Recorder(({"status": "204"}, ""))
    r.api.stop("ch", "r1")
    ((method, url, _, body, _),) = r.calls
    assert (method, url, body) == (
        "POST",
        f"{API}/calendar/v3/channels/stop",
        {"id": "ch", "resourceId": "r1"},
    )


def test_stop_unknown_channel_is_fine() -> None:
    Recorder(error(404, "notFound", "Channel 'ch' not found for project")).api.stop("ch", "r1")


# --- free/busy ----------------------------------------------------------------------------


def slot(start: str, end: str) -> dict[str, str]:
    return {"start": start, "end": end}


def test_free_busy_merges_the_calendars() -> None:
    a = [slot("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z")]
    b = [
        slot("2026-01-05T09:30:00Z", "2026-01-05T11:00:00Z"),
        slot("2026-01-05T13:00:00+01:00", "2026-01-05T13:30:00+01:00"),
    ]
    r = Recorder(
        ok({"kind": "calendar#freeBusy", "calendars": {"a@x": {"busy": a}, "b@x": {"busy": b}}})
    )
    busy = r.api.free_busy(["a@x", "b@x", "a@x"], WINDOW[0], WINDOW[1])
    assert busy == [
        (datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 5, 11, tzinfo=UTC)),
        (datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 1, 5, 12, 30, tzinfo=UTC)),
    ]
    ((method, url, _, body, _),) = r.calls
    assert (method, url) == ("POST", f"{API}/calendar/v3/freeBusy")
    assert body["items"] == [{"id": "a@x"}, {"id": "b@x"}]
    assert body["timeZone"] == "UTC"


def test_free_busy_of_an_unreadable_calendar_fails() -> None:
    r = Recorder(
        ok({"calendars": {"gone@x": {"errors": [{"domain": "global", "reason": "notFound"}]}}})
    )
    with pytest.raises(PermanentError, match="notFound"):
        r.api.free_busy(["gone@x"], WINDOW[0], WINDOW[1])
