"""The control plane: faults, the request log, the outbox, reset, hub URL, background sending."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from connectors.calcom.client import CalcomClient
from connectors.errors import TransientError
from connectors.sandbox import serve_in_thread
from connectors.sandbox.faults import FaultInjector
from tests.connectors.sandbox.conftest import CALCOM_KEY, Api, HubStub, config_for


def test_next_two_calls_are_429_with_retry_after_then_success(api: Api) -> None:
    rule = api.control(
        "POST", "/faults", json={"provider": "daily", "status": 429, "count": 2, "retry_after": 3}
    )
    assert rule.status_code == 201
    for _ in range(2):
        limited = api.daily("GET", "/rooms")
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
        assert limited.json()["error"] == "rate-limit-error"
    assert api.daily("GET", "/rooms").status_code == 200
    assert api.control("GET", "/faults").json() == {"faults": []}
    log = api.control("GET", "/requests", params={"provider": "daily"}).json()
    assert [(r["status"], r["fault"]) for r in log["requests"]] == [
        (429, True),
        (429, True),
        (200, False),
    ]


def test_the_hub_client_rides_out_a_429_storm(api: Api, http: requests.Session) -> None:
    api.control("POST", "/faults", json={"provider": "calcom", "status": 429, "count": 2})
    waits: list[float] = []
    cal = CalcomClient(CALCOM_KEY, api.sandbox.calcom_api_url, session=http, sleep=waits.append)
    made = cal.create_booking(
        start=datetime(2030, 3, 1, 9, tzinfo=UTC),
        event_type_id=1,
        attendee_name="Ann",
        attendee_email="ann@example.com",
        attendee_time_zone="UTC",
    )
    assert made["status"] == "accepted"
    assert waits == [1.0, 1.0]  # Retry-After and X-RateLimit-Reset-Default both say 1 s
    assert api.sandbox.state.count("calcom", "POST", "/bookings") == 3
    assert api.sandbox.state.writes("calcom") == 3


def test_faults_match_method_and_path(api: Api) -> None:
    api.control(
        "POST",
        "/faults",
        json={"provider": "daily", "status": 503, "count": 1, "method": "POST", "path": "/rooms"},
    )
    assert api.daily("GET", "/rooms").status_code == 200
    assert api.daily("POST", "/meeting-tokens", json={}).status_code == 200
    failed = api.daily("POST", "/rooms", json={"name": "r"})
    assert (failed.status_code, failed.json()["error"]) == (503, "server-error")
    assert api.daily("POST", "/rooms", json={"name": "r"}).status_code == 200


def test_a_fraction_of_calls_fail_until_cleared(api: Api, http: requests.Session) -> None:
    body = {"provider": "calcom", "status": 500, "ratio": 1.0, "duration_s": 30}
    rule = api.control("POST", "/faults", json=body).json()
    failed = api.calcom("GET", "/bookings")
    assert (failed.status_code, failed.json()["error"]["code"]) == (
        500,
        "InternalServerErrorException",
    )
    cal = CalcomClient(CALCOM_KEY, api.sandbox.calcom_api_url, session=http, sleep=lambda _: None)
    with pytest.raises(TransientError):
        cal.get_booking("x")
    assert api.control("DELETE", f"/faults/{rule['id']}").status_code == 200
    assert api.calcom("GET", "/bookings").status_code == 200
    assert api.control("DELETE", f"/faults/{rule['id']}").status_code == 404
    bad = api.control("POST", "/faults", json={"provider": "calcom", "status": 200})
    assert bad.status_code == 400


def test_fraction_faults_are_seeded_and_expire() -> None:
    now = [0.0]
    faults = FaultInjector(clock=lambda: now[0])
    faults.fail_fraction("daily", 503, 0.3, duration=10, seed=42)
    hits = [faults.check("daily", "GET", "/rooms") is not None for _ in range(1000)]
    assert 250 < sum(hits) < 350
    again = FaultInjector(clock=lambda: now[0])
    again.fail_fraction("daily", 503, 0.3, duration=10, seed=42)
    assert [again.check("daily", "GET", "/rooms") is not None for _ in range(1000)] == hits
    assert faults.check("calcom", "GET", "/bookings") is None
    now[0] = 10.0
    assert all(faults.check("daily", "GET", "/rooms") is None for _ in range(50))
    assert faults.rules() == []


def test_counted_faults_lapse_after_their_ttl() -> None:
    now = [0.0]
    faults = FaultInjector(clock=lambda: now[0])
    rule = faults.fail_next("*", 429, count=5, ttl=2)
    assert rule.retry_after == 1
    fault = faults.check("calcom", "POST", "/bookings")
    assert fault is not None
    assert (fault.status, fault.retry_after) == (429, 1)
    now[0] = 2.0
    assert faults.check("daily", "GET", "/rooms") is None


def test_request_log_counts_and_clears(api: Api) -> None:
    api.daily("POST", "/rooms", json={"name": "a"})
    api.daily("POST", "/rooms", json={"name": "b"})
    api.daily("GET", "/rooms/a")
    api.calcom("GET", "/bookings")
    every = api.control("GET", "/requests").json()
    assert (every["count"], every["writes"]) == (4, 2)
    posts = api.control("GET", "/requests", params={"provider": "daily", "method": "POST"}).json()
    assert posts["count"] == 2
    assert posts["requests"][0]["body"] == {"name": "a"}
    assert posts["requests"][0]["path"] == "/rooms"
    assert api.sandbox.state.count("daily", path="/rooms/") == 1
    assert api.control("DELETE", "/requests").json() == {"cleared": 4}
    assert api.sandbox.state.count() == 0


def test_state_dump_outbox_and_reset(api: Api, hub: HubStub) -> None:
    api.daily("POST", "/rooms", json={"name": "a"})
    api.control(
        "POST",
        "/calcom/bookings",
        json={
            "start": "2030-01-01T10:00:00Z",
            "attendee": {"name": "G", "email": "g@example.com"},
            "location": "https://meet.example.com/x",
        },
    )
    api.control("POST", "/faults", json={"provider": "daily", "status": 500, "count": 9})
    state = api.control("GET", "/state").json()
    assert [r["name"] for r in state["daily"]["rooms"]] == ["a"]
    assert state["calcom"]["bookings"][0]["meetingUrl"] == "https://meet.example.com/x"
    assert state["daily"]["webhooks"][0]["url"] == f"{hub.url}/webhooks/daily"
    outbox = api.control("GET", "/outbox", params={"provider": "calcom"}).json()
    assert outbox["deliveries"][0]["result"] == "delivered"
    assert outbox["deliveries"][0]["status_code"] == 200
    assert api.control("POST", "/reset").json() == {"reset": True}
    state = api.control("GET", "/state").json()
    assert (state["daily"]["rooms"], state["calcom"]["bookings"]) == ([], [])
    assert len(state["daily"]["webhooks"]) == 1  # re-seeded
    assert api.daily("GET", "/rooms").status_code == 200  # faults are gone too
    missing = api.control("POST", "/calcom/bookings/nope/cancel", json={})
    assert (missing.status_code, missing.json()["error"]) == (404, "NotFoundException")


def test_hub_url_can_be_set_later(http: requests.Session, hub: HubStub) -> None:
    with serve_in_thread(config_for(None)) as running:
        api = Api(running, http)
        assert api.daily("GET", "/webhooks").json() == []
        api.control("POST", "/hub-url", json={"hub_url": hub.url + "/"})
        [hook] = api.daily("GET", "/webhooks").json()
        assert hook["url"] == f"{hub.url}/webhooks/daily"
        assert running.hub_env()["SESSIONHUB_DAILY_API_URL"] == running.daily_api_url


def test_background_sending_keeps_order(http: requests.Session, hub: HubStub) -> None:
    with serve_in_thread(config_for(hub.url, background_webhooks=True)) as running:
        api = Api(running, http)
        api.daily("POST", "/rooms", json={"name": "bg"})
        people = [{"user_id": "u1", "stay_s": 10}]
        api.control("POST", "/daily/rooms/bg/call", json={"participants": people})
        api.control("POST", "/flush")
        kinds = [r.body["type"] for r in hub.of("daily")]
        assert kinds == [
            "meeting.started",
            "participant.joined",
            "participant.left",
            "meeting.ended",
        ]


def test_raw_bodies_are_signed_and_sent(api: Api, hub: HubStub) -> None:
    body = {"triggerEvent": "MEETING_STARTED", "uid": "u", "updatedAt": "2030-01-01T00:00:00Z"}
    sent = api.control("POST", "/calcom/webhooks", json={"bodies": [body]}).json()
    assert sent["deliveries"][0]["result"] == "delivered"
    assert hub.of("calcom")[0].body == body
    assert api.control("POST", "/nope/webhooks", json={"bodies": []}).status_code == 404
