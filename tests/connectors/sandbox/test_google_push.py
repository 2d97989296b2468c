"""Google push channels in the sandbox: watch -> sync, changes -> exists, stop, expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from connectors.sandbox import serve_in_thread
from tests.connectors.sandbox.conftest import Api, HubStub, Received, config_for

EVENTS = "/calendar/v3/calendars/primary/events"
SLOT = {"start": {"dateTime": "2030-03-01T09:00:00Z"}, "end": {"dateTime": "2030-03-01T10:00:00Z"}}


class Google:
    def __init__(self, api: Api, hub: HubStub) -> None:
        self.api, self.hub = api, hub
        self.token = str(api.google_connect()["access_token"])

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.api.google(method, path, self.token, **kw)

    def watch(self, channel_id: str = "chan-1", **extra: Any) -> dict[str, Any]:
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": f"{self.hub.url}/webhooks/google",
            "token": "target=hub",
            **extra,
        }
        made = self.call("POST", f"{EVENTS}/watch", json=body)
        assert made.status_code == 200, made.text
        channel: dict[str, Any] = made.json()
        return channel

    def pushes(self) -> list[Received]:
        return self.hub.of("google")

    def states(self) -> list[tuple[str, str, str]]:
        return [
            (
                p.headers["x-goog-channel-id"],
                p.headers["x-goog-resource-state"],
                p.headers["x-goog-message-number"],
            )
            for p in self.pushes()
        ]


@pytest.fixture
def google(api: Api, hub: HubStub) -> Google:
    return Google(api, hub)


def test_watch_answers_a_channel_and_sends_sync(google: Google) -> None:
    before = datetime.now(UTC)
    channel = google.watch()
    assert set(channel) == {"kind", "id", "resourceId", "resourceUri", "token", "expiration"}
    assert (channel["kind"], channel["id"], channel["token"]) == (
        "api#channel",
        "chan-1",
        "target=hub",
    )
    assert channel["resourceUri"] == (
        "https://www.googleapis.com/calendar/v3/calendars/coach@example.com/events?alt=json"
    )
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
    assert timedelta(minutes=59) < expires - before <= timedelta(hours=1, seconds=5)
    [sync] = google.pushes()
    assert (sync.raw, sync.headers["content-length"]) == (b"", "0")
    assert {k: v for k, v in sync.headers.items() if k.startswith("x-goog-")} == {
        "x-goog-channel-id": "chan-1",
        "x-goog-channel-token": "target=hub",
        "x-goog-channel-expiration": sync.headers["x-goog-channel-expiration"],
        "x-goog-resource-id": channel["resourceId"],
        "x-goog-resource-uri": channel["resourceUri"],
        "x-goog-resource-state": "sync",
        "x-goog-message-number": "1",
    }
    stamp = parsedate_to_datetime(sync.headers["x-goog-channel-expiration"])
    assert sync.headers["x-goog-channel-expiration"].endswith(" GMT")
    assert abs(stamp - expires) < timedelta(seconds=1)


def test_every_change_pushes_exists_including_the_hubs_own_writes(api: Api, google: Google) -> None:
    google.watch()
    event = google.call("POST", EVENTS, json=SLOT).json()
    google.call("PATCH", f"{EVENTS}/{event['id']}", json={"summary": "echo"})
    api.control(
        "PATCH",
        f"/google/calendars/coach@example.com/events/{event['id']}",
        json={"start": "2030-03-01T11:00:00Z"},
    )
    api.control("DELETE", f"/google/calendars/coach@example.com/events/{event['id']}")
    assert google.states() == [
        ("chan-1", "sync", "1"),
        ("chan-1", "exists", "2"),
        ("chan-1", "exists", "3"),
        ("chan-1", "exists", "4"),
        ("chan-1", "exists", "5"),
    ]
    moved = google.call("GET", f"{EVENTS}/{event['id']}").json()
    assert moved["end"]["dateTime"] == "2030-03-01T12:00:00Z"  # the coach kept the length
    outbox = api.control("GET", "/outbox", params={"provider": "google"}).json()
    assert [d["result"] for d in outbox["deliveries"]] == ["delivered"] * 5
    assert outbox["deliveries"][1]["body"]["X-Goog-Resource-State"] == "exists"


def test_channels_of_other_calendars_hear_nothing(api: Api, google: Google) -> None:
    google.watch("mine")
    listed = google.call("GET", "/calendar/v3/users/me/calendarList").json()["items"]
    family = listed[1]["id"]
    google.call(
        "POST",
        f"/calendar/v3/calendars/{family}/events/watch",
        json={"id": "fam", "type": "webhook", "address": f"{google.hub.url}/webhooks/google"},
    )
    api.control(
        "POST", f"/google/calendars/{family}/events", json={"start": "2030-03-01T09:00:00Z"}
    )
    assert google.states() == [("mine", "sync", "1"), ("fam", "sync", "1"), ("fam", "exists", "2")]
    assert "x-goog-channel-token" not in google.pushes()[1].headers


def test_stop_ends_the_pushes(google: Google) -> None:
    channel = google.watch()
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    stopped = google.call("POST", "/calendar/v3/channels/stop", json=stop)
    assert (stopped.status_code, stopped.content) == (204, b"")
    google.call("POST", EVENTS, json=SLOT)
    assert [s for _, s, _ in google.states()] == ["sync"]
    again = google.call("POST", "/calendar/v3/channels/stop", json=stop)
    assert again.status_code == 404
    unknown = google.call("POST", "/calendar/v3/channels/stop", json={"id": "x", "resourceId": "y"})
    assert (unknown.status_code, unknown.json()["error"]["errors"][0]["reason"]) == (
        404,
        "notFound",
    )


def test_expired_channels_hear_nothing_and_expiry_is_capped(api: Api, google: Google) -> None:
    far = int((time.time() + 30 * 86400) * 1000)
    channel = google.watch(expiration=far)
    capped = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
    assert capped - datetime.now(UTC) <= timedelta(days=7)
    assert api.control("POST", "/google/channels/chan-1/expire").status_code == 200
    google.call("POST", EVENTS, json=SLOT)
    assert [s for _, s, _ in google.states()] == ["sync"]
    past = google.call(
        "POST",
        f"{EVENTS}/watch",
        json={"id": "old", "type": "web_hook", "address": google.hub.url, "expiration": "1000"},
    )
    assert past.status_code == 400


def test_bad_watch_requests(google: Google) -> None:
    google.watch()
    dup = google.call(
        "POST",
        f"{EVENTS}/watch",
        json={"id": "chan-1", "type": "web_hook", "address": google.hub.url},
    )
    assert (dup.status_code, dup.json()["error"]["errors"][0]["reason"]) == (
        400,
        "channelIdNotUnique",
    )
    kind = google.call(
        "POST", f"{EVENTS}/watch", json={"id": "c2", "type": "email", "address": "x"}
    )
    assert kind.status_code == 400


def test_deliver_false_loses_the_push(api: Api, google: Google) -> None:
    google.watch()
    api.control(
        "POST",
        "/google/calendars/coach@example.com/events",
        json={"start": "2030-03-01T09:00:00Z", "deliver": False},
    )
    assert [s for _, s, _ in google.states()] == ["sync"]
    held = api.control("GET", "/outbox", params={"provider": "google", "result": "suppressed"})
    assert held.json()["count"] == 1


def test_hand_made_notifications(api: Api, google: Google) -> None:
    google.watch()
    sent = api.control("POST", "/google/channels/chan-1/push", json={"state": "not_exists"})
    assert sent.status_code == 201
    assert google.states()[-1] == ("chan-1", "not_exists", "2")
    assert (
        api.control("POST", "/google/channels/chan-1/push", json={"state": "add"}).status_code
        == 400
    )
    assert api.control("POST", "/google/channels/nope/push", json={}).status_code == 404


def test_a_failing_hub_is_recorded(api: Api, google: Google) -> None:
    google.hub.answer(500)
    google.watch()
    failed = api.control("GET", "/outbox", params={"provider": "google"}).json()["deliveries"]
    assert [(d["event_type"], d["result"], d["status_code"]) for d in failed] == [
        ("sync", "failed", 500)
    ]


def test_background_pushes_keep_their_order(hub: HubStub, http: requests.Session) -> None:
    with serve_in_thread(config_for(hub.url, background_webhooks=True)) as running:
        api = Api(running, http)
        google = Google(api, hub)
        channel = google.watch()
        for n in range(3):
            google.call("POST", EVENTS, json={"summary": f"e{n}", **SLOT})
        stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
        google.call("POST", "/calendar/v3/channels/stop", json=stop)
        api.control("POST", "/flush")
        numbers = [int(n) for _, _, n in google.states()]
        assert numbers == sorted(numbers)
        assert numbers[0] == 1
