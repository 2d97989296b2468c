"""Calendar API v3 in the sandbox: calendars, events CRUD, etags, ids, errors."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.connectors.sandbox.conftest import Api

EVENTS = "/calendar/v3/calendars/primary/events"


def slot(start: str = "2030-03-01T09:00:00Z", end: str = "2030-03-01T10:00:00Z") -> dict[str, Any]:
    return {
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    }


@pytest.fixture
def token(api: Api) -> str:
    return str(api.google_connect()["access_token"])


class Cal:
    def __init__(self, api: Api, token: str) -> None:
        self.api, self.token = api, token

    def __call__(self, method: str, path: str = "", **kw: Any) -> requests.Response:
        return self.api.google(method, EVENTS + path, self.token, **kw)


@pytest.fixture
def cal(api: Api, token: str) -> Cal:
    return Cal(api, token)


def test_calendars_and_the_primary_alias(api: Api, token: str) -> None:
    primary = api.google("GET", "/calendar/v3/calendars/primary", token).json()
    assert (primary["kind"], primary["id"], primary["timeZone"]) == (
        "calendar#calendar",
        "coach@example.com",
        "UTC",
    )
    listed = api.google("GET", "/calendar/v3/users/me/calendarList", token).json()["items"]
    assert [(c["summary"], c.get("primary", False), c["accessRole"]) for c in listed] == [
        ("coach@example.com", True, "owner"),
        ("Family", False, "owner"),
    ]
    family = listed[1]["id"]
    assert family.endswith("@group.calendar.google.com")
    by_email = api.google("GET", "/calendar/v3/calendars/coach%40example.com", token)
    assert by_email.json()["id"] == "coach@example.com"
    other = api.google_connect("other@example.com")["access_token"]
    assert api.google("GET", f"/calendar/v3/calendars/{family}", other).status_code == 404


def test_insert_get_patch_put_delete_bump_etags(api: Api, cal: Cal) -> None:
    body = {
        "id": "hubsess4f2a9c0001",
        "summary": "Strategy Session",
        "description": "agenda",
        "attendees": [{"email": "guest@example.com"}],
        "extendedProperties": {"private": {"hub_session_id": "4f2a9c", "hub_write_version": "1"}},
        **slot(),
    }
    made = cal("POST", params={"sendUpdates": "none"}, json=body)
    assert made.status_code == 200
    event = made.json()
    assert event["id"] == "hubsess4f2a9c0001"
    assert (event["status"], event["sequence"], event["iCalUID"]) == (
        "confirmed",
        0,
        "hubsess4f2a9c0001@google.com",
    )
    assert event["attendees"] == [{"responseStatus": "needsAction", "email": "guest@example.com"}]
    assert event["organizer"] == {"email": "coach@example.com", "self": True}
    assert made.headers["ETag"] == event["etag"]
    assert event["etag"].startswith('"')
    assert event["etag"].endswith('"')

    got = cal("GET", "/hubsess4f2a9c0001").json()
    assert got == event

    patched = cal(
        "PATCH",
        "/hubsess4f2a9c0001",
        json={"summary": "Renamed", "extendedProperties": {"private": {"hub_write_version": "2"}}},
    ).json()
    assert patched["etag"] != event["etag"]
    assert patched["updated"] >= event["updated"]
    assert patched["extendedProperties"]["private"] == {
        "hub_session_id": "4f2a9c",
        "hub_write_version": "2",
    }
    assert (patched["sequence"], patched["description"]) == (0, "agenda")

    moved = cal(
        "PATCH", "/hubsess4f2a9c0001", json=slot("2030-03-01T11:00:00Z", "2030-03-01T12:00:00Z")
    )
    assert moved.json()["sequence"] == 1

    replaced = cal("PUT", "/hubsess4f2a9c0001", json={"summary": "Only", **slot()}).json()
    assert "description" not in replaced
    assert "extendedProperties" not in replaced
    assert (replaced["summary"], replaced["sequence"]) == ("Only", 2)
    etags = {event["etag"], patched["etag"], moved.json()["etag"], replaced["etag"]}
    assert len(etags) == 4

    deleted = cal("DELETE", "/hubsess4f2a9c0001")
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = cal("GET", "/hubsess4f2a9c0001").json()
    assert (gone["status"], gone["summary"]) == ("cancelled", "Only")
    again = cal("DELETE", "/hubsess4f2a9c0001")
    assert again.status_code == 410
    assert again.json()["error"]["errors"][0]["reason"] == "deleted"

    state = api.control("GET", "/state").json()["google"]["calendars"][0]["events"][0]
    assert state["sandbox"] == {"sendUpdates": "none", "madeBy": "api"}


def test_server_made_ids_are_base32hex(cal: Cal) -> None:
    event = cal("POST", json={"summary": "x", **slot()}).json()
    assert len(event["id"]) == 26
    assert set(event["id"]) <= set("abcdefghijklmnopqrstuv0123456789")


@pytest.mark.parametrize("bad", ["abcd", "Abcdef", "abcdefw", "abc-def", "a" * 1025])
def test_client_ids_must_be_base32hex_5_to_1024(cal: Cal, bad: str) -> None:
    refused = cal("POST", json={"id": bad, "summary": "x", **slot()})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 400


def test_duplicate_ids_are_409_even_after_deletion(cal: Cal) -> None:
    assert cal("POST", json={"id": "dup00001", **slot()}).status_code == 200
    clash = cal("POST", json={"id": "dup00001", **slot()})
    expected = {
        "error": {
            "errors": [
                {
                    "domain": "global",
                    "reason": "duplicate",
                    "message": "The requested identifier already exists.",
                }
            ],
            "code": 409,
            "message": "The requested identifier already exists.",
        }
    }
    assert (clash.status_code, clash.json()) == (409, expected)
    cal("DELETE", "/dup00001")
    assert cal("POST", json={"id": "dup00001", **slot()}).status_code == 409


def test_not_found_and_bad_bodies(cal: Cal) -> None:
    missing = cal("GET", "/nosuchevent")
    assert missing.status_code == 404
    assert missing.json()["error"]["errors"][0] == {
        "domain": "global",
        "reason": "notFound",
        "message": "Not Found",
    }
    assert cal("PATCH", "/nosuchevent", json={}).status_code == 404
    assert cal("DELETE", "/nosuchevent").status_code == 404
    no_end = cal("POST", json={"start": {"dateTime": "2030-03-01T09:00:00Z"}})
    assert no_end.status_code == 400
    backwards = cal("POST", json=slot("2030-03-01T10:00:00Z", "2030-03-01T09:00:00Z"))
    assert backwards.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    naive = cal(
        "POST", json={"start": {"dateTime": "2030-03-01T09:00:00"}, "end": {"date": "2030-03-02"}}
    )
    assert naive.status_code == 400
    assert cal("POST", params={"sendUpdates": "some"}, json=slot()).status_code == 400
    assert cal("POST", data="[1]", headers={"Content-Type": "application/json"}).status_code == 400


def test_time_zones_and_all_day_events(cal: Cal) -> None:
    zoned = {
        "start": {"dateTime": "2030-03-01T09:00:00", "timeZone": "Europe/London"},
        "end": {"dateTime": "2030-03-01T10:00:00+00:00"},
    }
    assert cal("POST", json=zoned).status_code == 200
    all_day = cal("POST", json={"start": {"date": "2030-03-02"}, "end": {"date": "2030-03-03"}})
    assert all_day.json()["start"] == {"date": "2030-03-02"}


def test_if_match_guards_writes(cal: Cal) -> None:
    event = cal("POST", json=slot()).json()
    stale = cal("PATCH", f"/{event['id']}", json={"summary": "a"}, headers={"If-Match": '"0"'})
    assert (stale.status_code, stale.json()["error"]["errors"][0]["reason"]) == (
        412,
        "conditionNotMet",
    )
    fresh = cal(
        "PATCH", f"/{event['id']}", json={"summary": "a"}, headers={"If-Match": event["etag"]}
    )
    assert fresh.status_code == 200


def test_unknown_routes_and_methods_answer_google_errors(api: Api, token: str) -> None:
    nowhere = api.google("GET", "/calendar/v3/nowhere", token)
    assert (nowhere.status_code, nowhere.json()["error"]["code"]) == (404, 404)
    wrong = api.google("POST", "/calendar/v3/calendars/primary", token)
    assert wrong.status_code == 405
