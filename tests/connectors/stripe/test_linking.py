"""Which keys a Stripe payment carries for the hub to find its session, in the hub's order."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Change, LinkRef
from connectors.stripe.mapping import session_uuid, to_changes

FIXTURES = Path(__file__).parent / "fixtures"
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
SESSION = "0b7e4a52-3c1d-4f6a-9e2b-8d5c7a1f3e90"
CALCOM = "calcom"


def variant(name: str, **obj: Any) -> dict[str, Any]:
    """A fixture with data.object fields replaced (None removes one)."""
    body: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    for key, value in obj.items():
        if value is None:
            body["data"]["object"].pop(key, None)
        else:
            body["data"]["object"][key] = value
    return body


def checkout(**obj: Any) -> dict[str, Any]:
    return variant("checkout.session.completed", **obj)


def one(body: dict[str, Any]) -> Change:
    (change,) = to_changes(body)
    return change


def test_session_metadata_names_the_session() -> None:
    change = one(checkout(metadata={"sessionhub_session_id": SESSION}, client_reference_id=None))
    assert change.session_id == SESSION
    assert change.links == ()
    assert change.external_id == PI  # the PaymentIntent is linked too


def test_session_metadata_uuid_is_normalised() -> None:
    change = one(checkout(metadata={"sessionhub_session_id": f" {SESSION.upper()} "}))
    assert change.session_id == SESSION


@pytest.mark.parametrize("value", ["4f2a9c", "", "not-a-uuid", SESSION.replace("-", ""), 7])
def test_session_metadata_that_is_not_a_uuid_is_ignored(value: Any) -> None:
    body = checkout(metadata={"sessionhub_session_id": value}, client_reference_id=None)
    assert one(body).session_id is None


def test_client_reference_id_uuid_names_the_session() -> None:
    change = one(checkout(metadata={}, client_reference_id=SESSION))
    assert change.session_id == SESSION
    assert change.links == ()


def test_session_metadata_wins_over_client_reference_id() -> None:
    other = "9d4c8b1a-0000-4000-8000-000000000001"
    change = one(checkout(metadata={"sessionhub_session_id": SESSION}, client_reference_id=other))
    assert change.session_id == SESSION


def test_client_reference_id_that_is_a_calcom_uid_links_the_booking() -> None:
    change = one(checkout(metadata={}, client_reference_id="bk7YtX2qLm9VnR4sWp3ZcA"))
    assert change.session_id is None
    assert change.links == (LinkRef(CALCOM, "bk7YtX2qLm9VnR4sWp3ZcA"),)


def test_calcom_booking_uid_metadata_links_the_booking() -> None:
    change = one(checkout(metadata={"calcom_booking_uid": "uid-1"}, client_reference_id=None))
    assert change.links == (LinkRef(CALCOM, "uid-1"),)


def test_the_same_booking_uid_twice_is_linked_once() -> None:
    body = checkout(metadata={"calcom_booking_uid": "uid-1"}, client_reference_id="uid-1")
    assert one(body).links == (LinkRef(CALCOM, "uid-1"),)


def test_every_key_at_once_is_passed_on_for_the_hub_to_try_in_order() -> None:
    metadata = {"sessionhub_session_id": SESSION, "calcom_booking_uid": "uid-2"}
    change = one(checkout(metadata=metadata, client_reference_id="uid-1"))
    assert change.session_id == SESSION
    assert change.links == (LinkRef(CALCOM, "uid-1"), LinkRef(CALCOM, "uid-2"))
    assert change.external_id == PI


def test_client_reference_id_counts_only_on_checkout_sessions() -> None:
    body = variant("payment_intent.succeeded", client_reference_id=SESSION)
    assert one(body).session_id is None


def test_payment_intent_metadata_links_too() -> None:
    metadata = {"sessionhub_session_id": SESSION, "calcom_booking_uid": "uid-1"}
    change = one(variant("payment_intent.succeeded", metadata=metadata))
    assert change.session_id == SESSION
    assert change.links == (LinkRef(CALCOM, "uid-1"),)


def test_session_uuid() -> None:
    assert session_uuid(SESSION.upper()) == SESSION
    assert session_uuid("hub-session-4f2a9c") is None
    assert session_uuid(None) is None
