"""Google pushes: channel-token checks, identity (dedupe keys), parsing and push items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.base import lower_headers
from connectors.calendar import CalendarConnector, PushItem
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.google import GoogleConnector, connector
from connectors.google.push import resource_of

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "target=myApp-myCalendarChannelDest"
CHANNEL = "01234567-89ab-cdef-0123456789ab"


def push(state: str = "exists") -> dict[str, str]:
    """A recorded push's headers, lower-cased as the hub hands them over."""
    recorded = json.loads((FIXTURES / f"push-{state}.json").read_text())
    return lower_headers(recorded["headers"])


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


def test_registered_as_a_calendar_connector() -> None:
    assert connector.slug == "google"
    assert isinstance(connector, CalendarConnector)
    assert connector.needs_secret is False
    assert connector.accepted_status == 200
    assert "x-goog-channel-id" in connector.stored_headers
    assert "x-goog-channel-token" not in connector.stored_headers  # a secret is not stored
    assert list(connector.scopes) == [
        "https://www.googleapis.com/auth/calendar.events",
        "https://www.googleapis.com/auth/calendar.readonly",
    ]


# --- verify -------------------------------------------------------------------------------


def test_right_token_passes() -> None:
    GoogleConnector().verify(push(), b"", [TOKEN])


def test_right_token_among_several_passes() -> None:
    GoogleConnector().verify(push(), b"", ["old-token", "", TOKEN, "other"])


def test_wrong_token_is_rejected() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        GoogleConnector().verify(push(), b"", ["another-channel-token"])


def test_token_prefix_is_not_enough() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        GoogleConnector().verify(push(), b"", [TOKEN[:-1]])


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_secret_is_rejected(secrets: list[str]) -> None:
    with pytest.raises(InvalidSignature, match="no channel secret"):
        GoogleConnector().verify(push(), b"", secrets)


def test_missing_channel_id_is_rejected() -> None:
    with pytest.raises(InvalidSignature, match="X-Goog-Channel-ID"):
        GoogleConnector().verify(without(push(), "x-goog-channel-id"), b"", [TOKEN])


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_token_is_rejected(value: str | None) -> None:
    headers = without(push(), "x-goog-channel-token")
    if value is not None:
        headers["x-goog-channel-token"] = value
    with pytest.raises(InvalidSignature, match="X-Goog-Channel-Token"):
        GoogleConnector().verify(headers, b"", [TOKEN])


# --- identify, parse, push items ----------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "number"), [("sync", "1"), ("exists", "1185"), ("not_exists", "1190")]
)
def test_identify_names_state_and_message(state: str, number: str) -> None:
    assert GoogleConnector().identify(push(state), b"") == (f"push:{state}", f"{CHANNEL}:{number}")


def test_identify_never_raises() -> None:
    kind, key = GoogleConnector().identify({}, b"")
    assert kind == "push:unknown"
    assert key.startswith("unknown:none-")


def test_a_push_without_message_number_is_never_a_duplicate() -> None:
    headers = without(push(), "x-goog-message-number")
    first, second = (GoogleConnector().identify(headers, b"")[1] for _ in range(2))
    assert first != second


@pytest.mark.parametrize("state", ["sync", "exists", "not_exists"])
def test_parse_is_a_trigger_without_changes(state: str) -> None:
    event = GoogleConnector().parse(b"", push(state))
    assert event.event_type == state
    assert event.changes == ()


def test_parse_refuses_an_unknown_state() -> None:
    headers = {**push(), "x-goog-resource-state": "add"}
    with pytest.raises(InvalidPayload, match="X-Goog-Resource-State"):
        GoogleConnector().parse(b"", headers)


def test_header_helpers() -> None:
    assert GoogleConnector.channel_of(push()) == CHANNEL
    assert GoogleConnector.channel_of({}) is None
    assert GoogleConnector.resource_state(push("not_exists")) == "not_exists"
    assert resource_of(push()) == "o3hgv1538sdjfh"


@pytest.mark.parametrize(
    ("state", "item_state"), [("sync", "sync"), ("exists", "changed"), ("not_exists", "changed")]
)
def test_push_items(state: str, item_state: str) -> None:
    assert GoogleConnector().push_items(push(state), b"") == [
        PushItem(channel_id=CHANNEL, token=TOKEN, state=item_state, resource_id="o3hgv1538sdjfh")
    ]


def test_push_items_without_channel_is_unreadable() -> None:
    with pytest.raises(InvalidPayload):
        GoogleConnector().push_items(without(push(), "x-goog-channel-id"), b"")


def test_push_items_carry_a_missing_token_as_none() -> None:
    (item,) = GoogleConnector().push_items(without(push(), "x-goog-channel-token"), b"")
    assert item.token is None
