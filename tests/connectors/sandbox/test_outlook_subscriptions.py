"""Graph subscriptions in the sandbox: validation handshake, change and lifecycle notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.connectors.sandbox.conftest import HubStub, Outlook

EVENT = {
    "subject": "Session",
    "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
}


@pytest.fixture
def token(outlook: Outlook) -> str:
    return str(outlook.connect()["access_token"])


def subscribe(outlook: Outlook, token: str, hub: HubStub, **extra: Any) -> Any:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{hub.url}/webhooks/outlook?tenant=t1",
        "lifecycleNotificationUrl": f"{hub.url}/webhooks/outlook/lifecycle",
        "resource": "/me/events",
        "expirationDateTime": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        "clientState": "s3cret",
        **extra,
    }
    return outlook.graph("POST", "/subscriptions", token, json=body)


def test_creation_runs_the_validation_handshake_first(
    outlook: Outlook, token: str, hub: HubStub
) -> None:
    made = subscribe(outlook, token, hub)
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["clientState"] == "s3cret"
    assert sub["changeType"] == "created,updated,deleted"
    probes = [r for r in hub.received if r.path.startswith("/webhooks/outlook")]
    assert [r.path for r in probes] == ["/webhooks/outlook", "/webhooks/outlook/lifecycle"]
    assert probes[0].headers["content-type"] == "text/plain; charset=utf-8"
    assert probes[0].raw == b""
    expires = datetime.fromisoformat(sub["expirationDateTime"].replace("0Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(days=1, hours=23)

    capped = subscribe(
        outlook,
        token,
        hub,
        expirationDateTime=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
    ).json()
    longest = datetime.fromisoformat(capped["expirationDateTime"].replace("0Z", "+00:00"))
    assert longest - datetime.now(UTC) <= timedelta(minutes=4230)

    renewed = outlook.graph(
        "PATCH",
        f"/subscriptions/{sub['id']}",
        token,
        json={"expirationDateTime": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
    )
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"] < sub["expirationDateTime"]
    reauthorized = outlook.graph("POST", f"/subscriptions/{sub['id']}/reauthorize", token)
    assert reauthorized.status_code == 200
    assert outlook.graph("DELETE", f"/subscriptions/{sub['id']}", token).status_code == 204
    assert outlook.graph("GET", f"/subscriptions/{sub['id']}", token).status_code == 404


@pytest.mark.parametrize("mode", ["json", "wrong"])
def test_a_hub_that_does_not_echo_the_token_fails_validation(
    outlook: Outlook, token: str, hub: HubStub, mode: str
) -> None:
    hub.validation = mode
    refused = subscribe(outlook, token, hub)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ValidationError"
    assert outlook.control("GET", "").json()["subscriptions"] == []


def test_an_unreachable_hub_fails_validation(outlook: Outlook, token: str, hub: HubStub) -> None:
    refused = subscribe(outlook, token, hub, notificationUrl="http://127.0.0.1:9/nothing")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "ValidationError"


def _notifications(hub: HubStub) -> list[dict[str, Any]]:
    found = [r for r in hub.received if r.path == "/webhooks/outlook" and r.raw]
    return [item for r in found for item in r.body["value"]]


def test_every_change_notifies_including_the_hubs_own_writes(
    outlook: Outlook, token: str, hub: HubStub
) -> None:
    sub = subscribe(outlook, token, hub).json()
    event = outlook.graph("POST", "/me/events", token, json=EVENT).json()
    outlook.graph("PATCH", f"/me/events/{event['id']}", token, json={"subject": "Moved"})
    calendar = outlook.default_calendar(token)
    outlook.control("DELETE", f"/calendars/{calendar}/events/{event['id']}")
    items = _notifications(hub)
    assert [i["changeType"] for i in items] == ["created", "updated", "deleted"]
    first = items[0]
    assert first["subscriptionId"] == sub["id"]
    assert first["clientState"] == "s3cret"
    assert first["resourceData"]["id"] == event["id"]
    assert first["resourceData"]["@odata.etag"] == event["@odata.etag"]
    assert first["resource"].endswith(f"/Events/{event['id']}")
    assert first["tenantId"] == outlook.control("GET", "").json()["tenant_id"]
    sent = [r for r in hub.received if r.path == "/webhooks/outlook" and r.raw]
    assert all(r.headers["content-type"].startswith("application/json") for r in sent)


def test_batched_notifications_share_one_post(outlook: Outlook, token: str, hub: HubStub) -> None:
    subscribe(outlook, token, hub)
    outlook.control("POST", "/settings", json={"batch_notifications": True})
    for _ in range(3):
        outlook.graph("POST", "/me/events", token, json=EVENT)
    assert _notifications(hub) == []
    flushed = outlook.control("POST", "/notifications/flush").json()["sent"]
    assert len(flushed) == 1
    assert [len(r.body["value"]) for r in hub.received if r.raw] == [3]


def test_calendar_subscriptions_only_see_their_calendar(
    outlook: Outlook, token: str, hub: HubStub
) -> None:
    calendar = outlook.default_calendar(token)
    made = subscribe(
        outlook, token, hub, resource=f"me/calendars/{calendar}/events", changeType="deleted"
    )
    assert made.status_code == 201
    event = outlook.graph("POST", "/me/events", token, json=EVENT).json()
    assert _notifications(hub) == []
    outlook.graph("DELETE", f"/me/events/{event['id']}", token)
    assert [i["changeType"] for i in _notifications(hub)] == ["deleted"]
    bad = subscribe(outlook, token, hub, resource="/me/messages")
    assert bad.status_code == 400


def test_lifecycle_events_reach_the_lifecycle_url(
    outlook: Outlook, token: str, hub: HubStub
) -> None:
    sub = subscribe(outlook, token, hub).json()
    for kind in ("reauthorizationRequired", "missed", "subscriptionRemoved"):
        sent = outlook.control(
            "POST", f"/subscriptions/{sub['id']}/lifecycle", json={"lifecycleEvent": kind}
        )
        assert sent.json()["result"] == "delivered"
    got = [
        r.body["value"][0]
        for r in hub.received
        if r.path == "/webhooks/outlook/lifecycle" and r.raw
    ]
    assert [g["lifecycleEvent"] for g in got] == [
        "reauthorizationRequired",
        "missed",
        "subscriptionRemoved",
    ]
    assert set(got[0]) == {
        "subscriptionId",
        "subscriptionExpirationDateTime",
        "tenantId",
        "clientState",
        "lifecycleEvent",
    }
    outlook.graph("POST", "/me/events", token, json=EVENT)
    assert _notifications(hub) == []  # removed subscriptions get nothing
    assert outlook.graph("GET", f"/subscriptions/{sub['id']}", token).status_code == 404
    bad = outlook.control(
        "POST", f"/subscriptions/{sub['id']}/lifecycle", json={"lifecycleEvent": "missed"}
    )
    assert bad.status_code == 404
