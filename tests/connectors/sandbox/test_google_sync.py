"""events.list in the sandbox: full listing, paging, sync tokens, deleted items, 410."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.connectors.sandbox.conftest import Api

EVENTS = "/calendar/v3/calendars/primary/events"
GONE = {
    "error": {
        "errors": [
            {
                "domain": "global",
                "reason": "fullSyncRequired",
                "message": "Sync token is no longer valid, a full sync is required.",
            }
        ],
        "code": 410,
        "message": "Sync token is no longer valid, a full sync is required.",
    }
}


def slot(hour: int, day: int = 1) -> dict[str, Any]:
    return {
        "start": {"dateTime": f"2030-03-{day:02d}T{hour:02d}:00:00Z"},
        "end": {"dateTime": f"2030-03-{day:02d}T{hour + 1:02d}:00:00Z"},
    }


class Cal:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.token = str(api.google_connect()["access_token"])

    def __call__(self, method: str, path: str = "", **kw: Any) -> requests.Response:
        return self.api.google(method, EVENTS + path, self.token, **kw)

    def add(self, summary: str, hour: int, **extra: Any) -> dict[str, Any]:
        made = self("POST", json={"summary": summary, **slot(hour), **extra})
        assert made.status_code == 200, made.text
        body: dict[str, Any] = made.json()
        return body

    def pages(self, **params: Any) -> list[dict[str, Any]]:
        """Every page of one listing, following nextPageToken."""
        found = []
        while True:
            page = self("GET", params=params)
            assert page.status_code == 200, page.text
            found.append(page.json())
            if "nextPageToken" not in found[-1]:
                return found
            params = {**params, "pageToken": found[-1]["nextPageToken"]}


@pytest.fixture
def cal(api: Api) -> Cal:
    return Cal(api)


def test_full_sync_pages_then_a_sync_token(cal: Cal) -> None:
    for n in range(5):
        cal.add(f"e{n}", 9 + n)
    pages = cal.pages(maxResults=2, singleEvents="true")
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all("nextSyncToken" not in p for p in pages[:-1])
    assert [i["summary"] for p in pages for i in p["items"]] == ["e0", "e1", "e2", "e3", "e4"]
    assert pages[0]["kind"] == "calendar#events"
    quiet = cal("GET", params={"syncToken": pages[-1]["nextSyncToken"]}).json()
    assert (quiet["items"], "nextSyncToken" in quiet) == ([], True)


def test_incremental_sync_returns_changes_including_deleted(api: Api, cal: Cal) -> None:
    keep, gone = cal.add("keep", 9), cal.add("gone", 10)
    token = cal.pages()[-1]["nextSyncToken"]
    cal("PATCH", f"/{keep['id']}", json={"summary": "kept"})
    cal("PATCH", f"/{keep['id']}", json={"summary": "kept twice"})
    cal("DELETE", f"/{gone['id']}")
    api.control(
        "POST",
        "/google/calendars/coach@example.com/events",
        json={"summary": "coach", "start": "2030-03-01T15:00:00Z"},
    )
    changes = cal("GET", params={"syncToken": token}).json()
    items = changes["items"]
    assert [i.get("summary") for i in items] == ["kept twice", None, "coach"]
    tombstone = items[1]
    assert set(tombstone) == {"kind", "id", "status", "etag", "updated"}
    assert (tombstone["id"], tombstone["status"]) == (gone["id"], "cancelled")
    after = cal("GET", params={"syncToken": changes["nextSyncToken"]}).json()
    assert after["items"] == []
    # a full listing leaves the deleted event out unless showDeleted=true
    assert len(cal.pages()[0]["items"]) == 2
    assert len(cal.pages(showDeleted="true")[0]["items"]) == 3


def test_incremental_sync_pages_too(cal: Cal) -> None:
    token = cal.pages()[-1]["nextSyncToken"]
    for n in range(3):
        cal.add(f"n{n}", 9 + n)
    pages = cal.pages(syncToken=token, maxResults=2)
    assert [len(p["items"]) for p in pages] == [2, 1]
    assert "nextSyncToken" in pages[-1]
    assert "nextSyncToken" not in pages[0]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("timeMin", "2030-01-01T00:00:00Z"),
        ("timeMax", "2030-01-01T00:00:00Z"),
        ("orderBy", "updated"),
        ("q", "x"),
        ("privateExtendedProperty", "a=b"),
        ("sharedExtendedProperty", "a=b"),
        ("iCalUID", "x@google.com"),
        ("updatedMin", "2030-01-01T00:00:00Z"),
    ],
)
def test_forbidden_params_with_a_sync_token_are_400(cal: Cal, param: str, value: str) -> None:
    token = cal.pages()[-1]["nextSyncToken"]
    refused = cal("GET", params={"syncToken": token, param: value})
    assert refused.status_code == 400
    assert param in refused.json()["error"]["message"]


def test_invalidated_tokens_answer_410_then_a_full_sync_works(api: Api, cal: Cal) -> None:
    cal.add("a", 9)
    token = cal.pages()[-1]["nextSyncToken"]
    done = api.control("POST", "/google/calendars/coach@example.com/invalidate-sync-tokens")
    assert done.json() == {"calendarId": "coach@example.com", "invalidated": True}
    gone = cal("GET", params={"syncToken": token})
    assert (gone.status_code, gone.json()) == (410, GONE)
    fresh = cal.pages()[-1]
    assert [i["summary"] for i in fresh["items"]] == ["a"]
    assert cal("GET", params={"syncToken": fresh["nextSyncToken"]}).status_code == 200
    garbage = cal("GET", params={"syncToken": "not-a-token"})
    assert garbage.status_code == 400


def test_a_token_of_another_calendar_is_410(api: Api, cal: Cal) -> None:
    token = cal.pages()[-1]["nextSyncToken"]
    listed = api.google("GET", "/calendar/v3/users/me/calendarList", cal.token).json()
    family = listed["items"][1]["id"]
    other = api.google(
        "GET", f"/calendar/v3/calendars/{family}/events", cal.token, params={"syncToken": token}
    )
    assert other.status_code == 410


def test_full_listing_filters(cal: Cal) -> None:
    tagged = {"extendedProperties": {"private": {"hub_session_id": "s1"}}}
    cal.add("Strategy", 9, **tagged)
    cal.add("Lunch", 12, description="with Ann")
    cal.add("Late", 18)

    def summaries(**params: Any) -> list[str]:
        return [i["summary"] for i in cal.pages(**params)[0]["items"]]

    assert summaries(privateExtendedProperty="hub_session_id=s1") == ["Strategy"]
    assert summaries(privateExtendedProperty="hub_session_id=nope") == []
    assert summaries(q="ann") == ["Lunch"]
    assert summaries(timeMin="2030-03-01T10:00:00Z", timeMax="2030-03-01T18:00:00Z") == ["Lunch"]
    assert summaries(orderBy="startTime", singleEvents="true") == ["Strategy", "Lunch", "Late"]
    assert cal("GET", params={"orderBy": "startTime"}).status_code == 400
    assert cal("GET", params={"maxResults": "0"}).status_code == 400
    assert cal("GET", params={"timeMin": "yesterday"}).status_code == 400
