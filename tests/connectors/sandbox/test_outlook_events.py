"""Graph v1.0 in the sandbox: calendars, events, delta, $batch, throttling."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.connectors.sandbox.conftest import Outlook

PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name sessionhub_session_id"
UTC_PREFER = {"Prefer": 'outlook.timezone="UTC"'}


def event_body(hour: int = 9, **extra: Any) -> dict[str, Any]:
    return {
        "subject": f"Session at {hour}",
        "start": {"dateTime": f"2026-12-01T{hour:02d}:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-12-01T{hour:02d}:45:00", "timeZone": "UTC"},
        **extra,
    }


@pytest.fixture
def token(outlook: Outlook) -> str:
    return str(outlook.connect()["access_token"])


def test_me_and_calendars(outlook: Outlook, token: str) -> None:
    calendars = outlook.graph("GET", "/me/calendars", token).json()["value"]
    assert [(c["name"], c["isDefaultCalendar"], c["canEdit"]) for c in calendars] == [
        ("Calendar", True, True),
        ("Birthdays", False, False),
    ]
    birthdays = calendars[1]["id"]
    refused = outlook.graph("POST", f"/me/calendars/{birthdays}/events", token, json=event_body())
    assert refused.status_code == 403
    missing = outlook.graph("GET", "/me/calendars/nope", token)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ErrorItemNotFound"
    assert outlook.graph("GET", "/me", None).status_code == 401
    assert outlook.graph("GET", "/me", "forged").json()["error"]["code"] == (
        "InvalidAuthenticationToken"
    )


def test_event_crud_versions_and_transaction_dedup(outlook: Outlook, token: str) -> None:
    calendar = outlook.default_calendar(token)
    body = event_body(
        transactionId="session-42",
        singleValueExtendedProperties=[{"id": PROP, "value": "42"}],
        body={"contentType": "text", "content": "Bring notes"},
        showAs="busy",
    )
    made = outlook.graph("POST", f"/me/calendars/{calendar}/events", token, json=body)
    assert made.status_code == 201
    event = made.json()
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["start"] == {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"}
    assert "singleValueExtendedProperties" not in event
    again = outlook.graph("POST", "/me/events", token, json=body)
    assert again.status_code == 201
    assert again.json()["id"] == event["id"]
    assert outlook.sandbox.state.count("outlook", "POST", "/v1.0/me") == 2

    expand = f"singleValueExtendedProperties($filter=id eq '{PROP}')"
    fetched = outlook.graph("GET", f"/me/events/{event['id']}", token, params={"$expand": expand})
    assert fetched.json()["singleValueExtendedProperties"] == [{"id": PROP, "value": "42"}]

    moved = outlook.graph(
        "PATCH",
        f"/me/events/{event['id']}",
        token,
        json={
            "start": {"dateTime": "2026-12-01T11:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-12-01T11:45:00", "timeZone": "Europe/Berlin"},
        },
        headers=UTC_PREFER,
    ).json()
    assert moved["start"]["dateTime"] == "2026-12-01T10:00:00.0000000"
    assert moved["changeKey"] != event["changeKey"]
    assert moved["lastModifiedDateTime"] >= event["lastModifiedDateTime"]
    berlin = outlook.graph(
        "GET",
        f"/me/events/{event['id']}",
        token,
        headers={"Prefer": 'outlook.timezone="Europe/Berlin"'},
    )
    assert berlin.json()["start"]["timeZone"] == "Europe/Berlin"
    assert berlin.headers["Preference-Applied"] == 'outlook.timezone="Europe/Berlin"'
    stale = outlook.graph(
        "PATCH", f"/me/events/{event['id']}", token, json={}, headers={"If-Match": 'W/"old"'}
    )
    assert stale.status_code == 412

    assert outlook.graph("DELETE", f"/me/events/{event['id']}", token).status_code == 204
    gone = outlook.graph("GET", f"/me/events/{event['id']}", token)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "ErrorItemNotFound"
    assert outlook.graph("DELETE", f"/me/events/{event['id']}", token).status_code == 404


def _pages(outlook: Outlook, token: str, url: str) -> tuple[list[dict[str, Any]], str, int]:
    """Follow nextLinks from a full URL: every item, the deltaLink, the page count."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        answer = outlook.session.get(
            url, headers={"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=2"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        items += body["value"]
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]
        assert "$skiptoken=" in urlsplit(url).query


def test_delta_pages_changes_removals_and_invalidation(outlook: Outlook, token: str) -> None:
    calendar = outlook.default_calendar(token)
    ids = [
        outlook.graph("POST", "/me/events", token, json=event_body(h)).json()["id"]
        for h in (9, 10, 11)
    ]
    outlook.graph(
        "POST",
        "/me/events",
        token,
        json=event_body(9)
        | {
            "start": {"dateTime": "2027-06-01T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-06-01T10:00:00", "timeZone": "UTC"},
        },
    )
    start = f"{outlook.sandbox.https_url}/outlook/v1.0/me/calendars/{calendar}/calendarView/delta"
    window = "?startDateTime=2026-11-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z"
    items, delta, pages = _pages(outlook, token, start + window)
    assert [i["id"] for i in items] == ids
    assert pages == 2
    assert "$deltatoken=" in delta

    outlook.graph("PATCH", f"/me/events/{ids[1]}", token, json={"subject": "Renamed"})
    outlook.graph("DELETE", f"/me/events/{ids[0]}", token)
    coach = outlook.control(
        "POST",
        f"/calendars/{calendar}/events",
        json={"subject": "Dentist", "start": "2026-12-02T08:00:00", "end": "2026-12-02T09:00:00"},
    )
    assert coach.status_code == 201
    changes, delta, _ = _pages(outlook, token, delta)
    assert [c["id"] for c in changes] == [ids[1], ids[0], coach.json()["id"]]
    assert changes[0]["subject"] == "Renamed"
    assert changes[1] == {
        "@odata.type": "#microsoft.graph.event",
        "id": ids[0],
        "@removed": {"reason": "deleted"},
    }
    nothing, delta, _ = _pages(outlook, token, delta)
    assert nothing == []

    outlook.control("POST", f"/calendars/{calendar}/invalidate-delta-tokens")
    gone = outlook.session.get(delta, headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "SyncStateNotFound"
    fresh, _, _ = _pages(outlook, token, start + window)
    assert len(fresh) == 3


def test_batch_runs_each_request_and_caps_at_twenty(outlook: Outlook, token: str) -> None:
    requests_ = [
        {
            "id": "1",
            "method": "POST",
            "url": "/me/events",
            "body": event_body(9),
            "headers": {"Content-Type": "application/json"},
        },
        {"id": "2", "method": "GET", "url": "/me", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/me/events/missing"},
        {"id": "4", "method": "GET", "url": "/me", "dependsOn": ["3"]},
    ]
    outlook.sandbox.faults.fail_next(
        "outlook", 429, 1, method="GET", path="/v1.0/me", retry_after=7
    )
    answer = outlook.graph("POST", "/$batch", token, json={"requests": requests_})
    assert answer.status_code == 200
    by_id = {r["id"]: r for r in answer.json()["responses"]}
    assert by_id["1"]["status"] == 201
    assert by_id["1"]["body"]["subject"] == "Session at 9"
    assert by_id["2"]["status"] == 429
    assert by_id["2"]["headers"]["Retry-After"] == "7"
    assert by_id["3"]["status"] == 404
    assert by_id["4"]["status"] == 424
    logged = outlook.sandbox.state.requests_matching("outlook", "POST", "/v1.0/me/events")
    assert [r.batch for r in logged] == [True]

    too_many = [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]
    refused = outlook.graph("POST", "/$batch", token, json={"requests": too_many})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadRequest"


def test_a_fifth_concurrent_request_per_mailbox_is_throttled(outlook: Outlook, token: str) -> None:
    outlook.control("POST", "/settings", json={"latency_s": 0.4})
    statuses: list[int] = []
    retry: list[str | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def call() -> None:
        barrier.wait()
        answer = outlook.graph("GET", "/me", token)
        with lock:
            statuses.append(answer.status_code)
            retry.append(answer.headers.get("Retry-After"))
        answer.close()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(statuses) == [200, 200, 200, 200, 429, 429]
    assert retry.count("1") == 2
    state = outlook.control("GET", "").json()
    assert state["max_concurrency"]["coach@example.com"] == 5  # 4 admitted + 1 refused at once
    assert state["throttled"]["coach@example.com"] == 2
    outlook.control("POST", "/settings", json={"latency_s": 0})
    assert outlook.graph("GET", "/me", token).status_code == 200
