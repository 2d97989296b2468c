"""Google in the sandbox: freeBusy, the control plane, faults, request log, hub settings."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.sandbox.server import hub_env
from connectors.sandbox.state import SandboxConfig
from tests.connectors.sandbox.conftest import Api

FREE_BUSY = "/calendar/v3/freeBusy"


def coach_event(api: Api, calendar_id: str, **body: Any) -> dict[str, Any]:
    made = api.control("POST", f"/google/calendars/{calendar_id}/events", json=body)
    assert made.status_code == 201, made.text
    event: dict[str, Any] = made.json()["event"]
    return event


def test_accounts_come_with_a_primary_and_a_family_calendar(api: Api) -> None:
    made = api.control("POST", "/google/accounts", json={"email": "Zoe@Example.com"})
    assert made.status_code == 201
    body = made.json()
    assert (body["email"], body["created"]) == ("zoe@example.com", True)
    assert [(c["id"] == "zoe@example.com", c["summary"]) for c in body["calendars"]] == [
        (True, "zoe@example.com"),
        (False, "Family"),
    ]
    assert (
        api.control("POST", "/google/accounts", json={"email": "zoe@example.com"}).status_code
        == 200
    )
    assert api.control("POST", "/google/accounts", json={"email": "no-at-sign"}).status_code == 400
    assert api.control("POST", "/google/accounts", json={}).status_code == 400


def test_free_busy_counts_opaque_live_events_on_each_calendar(api: Api) -> None:
    token = api.google_connect()["access_token"]
    calendars = api.google("GET", "/calendar/v3/users/me/calendarList", token).json()["items"]
    primary, family = calendars[0]["id"], calendars[1]["id"]
    coach_event(api, primary, start="2030-03-01T09:00:00Z", end="2030-03-01T10:00:00Z")
    coach_event(api, primary, start="2030-03-01T09:30:00Z", end="2030-03-01T11:00:00Z")
    coach_event(api, primary, start="2030-03-01T13:00:00Z", transparency="transparent")
    gone = coach_event(api, primary, start="2030-03-01T15:00:00Z")
    api.control("DELETE", f"/google/calendars/{primary}/events/{gone['id']}")
    coach_event(api, family, start="2030-03-01", all_day=True, summary="School trip")
    coach_event(api, family, start="2030-03-01T07:00:00Z", end="2030-03-01T08:30:00Z")
    query = {
        "timeMin": "2030-03-01T08:00:00Z",
        "timeMax": "2030-03-01T18:00:00Z",
        "items": [{"id": "primary"}, {"id": family}, {"id": "ghost@example.com"}],
    }
    answer = api.google("POST", FREE_BUSY, token, json=query)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["kind"], body["timeMin"]) == ("calendar#freeBusy", "2030-03-01T08:00:00.000Z")
    assert body["calendars"] == {
        "primary": {"busy": [{"start": "2030-03-01T09:00:00Z", "end": "2030-03-01T11:00:00Z"}]},
        family: {"busy": [{"start": "2030-03-01T08:00:00Z", "end": "2030-03-01T18:00:00Z"}]},
        "ghost@example.com": {
            "errors": [{"domain": "global", "reason": "notFound"}],
            "busy": [],
        },
    }
    assert api.google("POST", FREE_BUSY, token, json={"items": []}).status_code == 400


def test_coach_edits_keep_all_day_events_all_day(api: Api) -> None:
    api.control("POST", "/google/accounts", json={"email": "coach@example.com"})
    event = coach_event(api, "coach@example.com", start="2030-03-01", all_day=True)
    assert (event["start"], event["end"]) == ({"date": "2030-03-01"}, {"date": "2030-03-02"})
    moved = api.control(
        "PATCH",
        f"/google/calendars/coach@example.com/events/{event['id']}",
        json={"start": "2030-03-05", "summary": "Moved"},
    ).json()["event"]
    assert (moved["start"], moved["end"], moved["sequence"]) == (
        {"date": "2030-03-05"},
        {"date": "2030-03-06"},
        1,
    )
    assert (
        api.control("DELETE", "/google/calendars/coach@example.com/events/nope").status_code == 404
    )
    bad = api.control("POST", "/google/calendars/coach@example.com/events", json={"start": "soon"})
    assert bad.status_code == 400
    assert api.control("POST", "/google/calendars/nobody/events", json={}).status_code == 404


def test_the_state_dump_has_a_google_section(api: Api) -> None:
    token = api.google_connect()["access_token"]
    api.google(
        "POST",
        "/calendar/v3/calendars/primary/events/watch",
        token,
        json={"id": "c1", "type": "web_hook", "address": f"{api.sandbox.url}/nowhere"},
    )
    coach_event(api, "coach@example.com", start="2030-03-01T09:00:00Z", summary="Deep work")
    google = api.control("GET", "/state").json()["google"]
    assert google == api.control("GET", "/google").json()
    [account] = google["accounts"]
    assert (account["email"], account["refreshes"], account["live_access_tokens"]) == (
        "coach@example.com",
        0,
        1,
    )
    assert [g["offline"] for g in account["grants"]] == [True]
    primary = google["calendars"][0]
    assert [e["summary"] for e in primary["events"]] == ["Deep work"]
    assert primary["events"][0]["sandbox"]["madeBy"] == "coach"
    [channel] = google["channels"]
    assert (channel["id"], channel["live"], channel["messages"]) == ("c1", True, 2)
    api.control("POST", "/reset")
    assert api.control("GET", "/google").json() == {"accounts": [], "calendars": [], "channels": []}


def test_faults_speak_googles_error_shapes(api: Api) -> None:
    token = api.google_connect()["access_token"]
    api.control("POST", "/faults", json={"provider": "google", "status": 429, "count": 1})
    limited = api.google("GET", "/calendar/v3/calendars/primary", token)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "1")
    assert limited.json()["error"]["errors"] == [
        {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}
    ]
    usage = {
        "provider": "google",
        "status": 403,
        "count": 1,
        "method": "POST",
        "reason": "userRateLimitExceeded",
    }
    api.control("POST", "/faults", json=usage)
    refused = api.google("POST", "/calendar/v3/calendars/primary/events", token, json={})
    assert refused.json() == {
        "error": {
            "errors": [
                {
                    "domain": "usageLimits",
                    "reason": "userRateLimitExceeded",
                    "message": "User Rate Limit Exceeded",
                }
            ],
            "code": 403,
            "message": "User Rate Limit Exceeded",
        }
    }
    verbatim = {"error": {"code": 503, "message": "The service is currently unavailable."}}
    api.control("POST", "/faults", json={"provider": "google", "status": 503, "body": verbatim})
    assert api.google("GET", "/calendar/v3/calendars/primary", token).json() == verbatim
    api.control("POST", "/faults", json={"provider": "google", "status": 500, "path": "/token"})
    token_down = api.google("POST", "/token", None, data={"grant_type": "refresh_token"})
    assert token_down.json() == {
        "error": "internal_failure",
        "error_description": "Internal Server Error",
    }
    assert api.control("POST", "/faults", json={**usage, "reason": 5}).status_code == 400
    log = api.control("GET", "/requests", params={"provider": "google", "path": "/calendar"}).json()
    assert [(r["status"], r["fault"]) for r in log["requests"]] == [
        (429, True),
        (403, True),
        (503, True),
    ]


def test_request_log_counts_google_calls(api: Api) -> None:
    token = api.google_connect()["access_token"]
    for _ in range(3):
        api.google("GET", "/calendar/v3/calendars/primary/events", token)
    api.google("POST", "/calendar/v3/calendars/primary/events", token, json={})
    state = api.sandbox.state
    assert state.count("google", "GET", "/calendar/v3/calendars/primary/events") == 3
    assert state.count("google", "POST", "/token") == 1
    assert state.writes("google") == 3  # approve, token, the refused insert
    assert api.control("GET", "/requests", params={"provider": "google"}).json()["count"] == 6


@pytest.mark.parametrize("path", ["/accounts/x@y.z/revoke-grant", "/accounts/x@y.z/expire-tokens"])
def test_control_calls_on_unknown_accounts_are_404(api: Api, path: str) -> None:
    missing = api.control("POST", f"/google{path}")
    assert (missing.status_code, missing.json()["error"]) == (404, "notFound")


def test_hub_env_points_the_hub_at_google_too(api: Api) -> None:
    env = api.sandbox.hub_env()
    url = api.sandbox.url
    assert env["SESSIONHUB_GOOGLE_API_URL"] == f"{url}/google" == api.sandbox.google_url
    assert env["SESSIONHUB_GOOGLE_OAUTH_URL"] == f"{url}/google"
    config = api.sandbox.sandbox.config
    assert env["SESSIONHUB_GOOGLE_CLIENT_ID"] == config.google_client_id
    assert env["SESSIONHUB_GOOGLE_CLIENT_SECRET"] == config.google_client_secret
    custom = hub_env("http://h", SandboxConfig(google_client_id="id", google_client_secret="s"))
    assert (custom["SESSIONHUB_GOOGLE_CLIENT_ID"], custom["SESSIONHUB_GOOGLE_CLIENT_SECRET"]) == (
        "id",
        "s",
    )
    assert "SESSIONHUB_GOOGLE_API_KEY" not in custom


def test_bulk_events_fill_a_calendar_and_push_once_when_asked(api: Api) -> None:
    token = api.google_connect()["access_token"]
    primary = api.google("GET", "/calendar/v3/users/me/calendarList", token).json()["items"][0]
    path = f"/google/calendars/{primary['id']}/events/bulk"
    made = api.control(
        "POST", path, json={"count": 3, "start": "2030-03-01T09:00:00Z", "every_minutes": 90}
    )
    assert made.status_code == 201, made.text
    assert made.json() == {"inserted": 3, "deliveries": []}
    listed = api.google("GET", f"/calendar/v3/calendars/{primary['id']}/events", token).json()
    starts = sorted(e["start"]["dateTime"] for e in listed["items"])
    assert starts == ["2030-03-01T09:00:00Z", "2030-03-01T10:30:00Z", "2030-03-01T12:00:00Z"]
    at = "2030-03-01T09:00:00Z"
    for bad in (
        {"count": 0, "start": at},
        {"count": "3", "start": at},
        {"count": 2, "minutes": 0, "start": at},
        {"count": 1, "start": "not a time"},
    ):
        assert api.control("POST", path, json=bad).status_code == 400, bad
