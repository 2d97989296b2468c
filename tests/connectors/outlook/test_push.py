"""Graph notifications: validation handshake, push items, clientState checks, identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.calendar import CalendarConnector, PushItem
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.outlook import OutlookConnector, connector

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "secretClientValue"
SUB_A = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
SUB_B = "0b4e9a52-61c4-4b53-9d1e-3f7c2a8e5d10"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


def mixed() -> bytes:
    """Three items across two subscriptions: two changes and one lifecycle event."""
    updated = fixture("notification-event-updated")["value"][0]
    other = {**fixture("notification-event-created")["value"][0], "subscriptionId": SUB_B}
    other["resource"] = "Users/u2/Events/AAMkB="
    lifecycle = fixture("lifecycle-reauthorizationRequired")["value"][0]
    return body(updated, other, lifecycle)


def test_a_calendar_connector_answering_202() -> None:
    assert connector.slug == "outlook"
    assert isinstance(connector, CalendarConnector)
    assert connector.needs_secret is False
    assert connector.accepted_status == 202
    assert list(connector.scopes) == ["Calendars.ReadWrite", "User.Read"]


# --- validation handshake -----------------------------------------------------------------


def test_validation_echoes_the_decoded_token_as_plain_text() -> None:
    recorded = fixture("validation-request")
    reply = connector.handshake(recorded["query"], recorded["headers"], b"")
    assert reply is not None
    assert reply.status == recorded["expected_response"]["status"]
    assert reply.content_type == "text/plain"
    assert reply.body == recorded["expected_response"]["body"]


def test_validation_comes_before_any_json_parsing() -> None:
    # Graph's validation POST has a text/plain (here: not JSON at all) body
    reply = connector.handshake({"validationToken": "a<b>&c"}, {}, b"not json {")
    assert reply is not None
    assert (reply.status, reply.body) == (200, "a<b>&c")  # text/plain: nothing escaped


def test_an_overlong_validation_token_is_refused() -> None:
    reply = connector.handshake({"validationToken": "x" * 1025}, {}, b"")
    assert reply is not None
    assert reply.status == 400
    assert json.loads(reply.body)["error"] == "invalid_request"
    ok = connector.handshake({"validationToken": "x" * 1024}, {}, b"")
    assert ok is not None
    assert ok.status == 200


def test_no_token_means_no_handshake() -> None:
    assert connector.handshake({}, {}, mixed()) is None


# --- push items ---------------------------------------------------------------------------


def test_items_across_subscriptions_with_a_lifecycle_event() -> None:
    items = connector.push_items({}, mixed())
    resource = "Users/d5c3f5a1-8e3b-4a2c-9f61-0c2b7e4d1a90/Events/AAMkAGI2TG93AAA="
    assert items == [
        PushItem(channel_id=SUB_A, token=SECRET, state="changed", resource_id=resource),
        PushItem(
            channel_id=SUB_B, token=SECRET, state="changed", resource_id="Users/u2/Events/AAMkB="
        ),
        PushItem(
            channel_id=SUB_A,
            token=SECRET,
            state="lifecycle:reauthorizationRequired",
            resource_id=None,
        ),
    ]


@pytest.mark.parametrize("event", ["missed", "subscriptionRemoved", "reauthorizationRequired"])
def test_lifecycle_events(event: str) -> None:
    raw = (FIXTURES / f"lifecycle-{event}.json").read_bytes()
    (item,) = connector.push_items({}, raw)
    assert item.state == f"lifecycle:{event}"
    assert item.channel_id == SUB_A


@pytest.mark.parametrize("change", ["created", "updated", "deleted"])
def test_change_types_mean_changed(change: str) -> None:
    raw = (FIXTURES / f"notification-event-{change}.json").read_bytes()
    assert {i.state for i in connector.push_items({}, raw)} == {"changed"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "no value list"),
        (b'{"value": []}', "no value list"),
        (b'{"value": "x"}', "no value list"),
        (b'{"value": [1]}', "not an object"),
        (b'{"value": [{"clientState": "s"}]}', "without subscriptionId"),
        (b'{"value": [{"subscriptionId": ""}]}', "without subscriptionId"),
    ],
)
def test_unreadable_bodies(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        connector.push_items({}, raw)
    with pytest.raises(InvalidPayload):
        connector.parse(raw, {})


# --- verify / identify / parse -------------------------------------------------------------


def test_every_client_state_matching_passes() -> None:
    OutlookConnector().verify({}, mixed(), ["old", "", SECRET])


def test_one_wrong_client_state_of_three_rejects_the_body() -> None:
    # verify() is all-or-nothing; the hub's push route checks each item against its own
    # subscription's secret and drops only the bad one (app/http/pushes.py)
    good = fixture("notification-event-updated")["value"]
    bad = {**good[0], "clientState": "guessed"}
    with pytest.raises(InvalidSignature, match="does not match"):
        connector.verify({}, body(good[0], bad, good[1]), [SECRET])


def test_a_missing_client_state_is_rejected() -> None:
    item = {k: v for k, v in fixture("notification-event-created")["value"][0].items()}
    del item["clientState"]
    with pytest.raises(InvalidSignature, match="without clientState"):
        connector.verify({}, body(item), [SECRET])


def test_no_secret_or_no_notification_is_rejected() -> None:
    with pytest.raises(InvalidSignature, match="no clientState secret"):
        connector.verify({}, mixed(), [""])
    with pytest.raises(InvalidSignature, match="not a notification"):
        connector.verify({}, b"{}", [SECRET])


def test_identify_and_parse() -> None:
    raw = mixed()
    kind, key = connector.identify({}, raw)
    assert kind == "graph:notification"
    assert key.startswith("sha256:")
    assert len(key) == len("sha256:") + 64
    assert connector.identify({}, raw) == (kind, key)
    event = connector.parse(raw, {})
    assert (event.event_type, event.changes) == ("notification", ())
