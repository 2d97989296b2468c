"""Stripe events (recorded fixtures and variants of them) to canonical payment changes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Change, LinkRef
from connectors.errors import InvalidPayload
from connectors.stripe.mapping import from_unix, to_changes

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = sorted(p.stem for p in FIXTURES.glob("*.*.json"))
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
CS = "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u"
CHARGE = "ch_1PgafuB7WZ01zgkWXYmPNZs8"
SESSION = "0b7e4a52-3c1d-4f6a-9e2b-8d5c7a1f3e90"
CALCOM = "calcom"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def one(body: dict[str, Any]) -> Change:
    changes = to_changes(body)
    assert len(changes) == 1
    return changes[0]


def variant(name: str, event_type: str | None = None, **obj: Any) -> dict[str, Any]:
    """A fixture with data.object fields replaced (None removes one) and maybe a new type."""
    body = copy.deepcopy(load(name))
    if event_type is not None:
        body["type"] = event_type
    for key, value in obj.items():
        if value is None:
            body["data"]["object"].pop(key, None)
        else:
            body["data"]["object"][key] = value
    return body


def checkout(event_type: str | None = None, **obj: Any) -> dict[str, Any]:
    return variant("checkout.session.completed", event_type, **obj)


# --- every fixture ------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_is_a_payment_fact_that_never_creates(name: str) -> None:
    body = load(name)
    change = one(body)
    assert change.source == "stripe"
    assert change.create is False
    assert change.external_id == PI
    assert change.occurred_at == datetime.fromtimestamp(body["created"], UTC)
    assert change.occurred_at.tzinfo is UTC
    assert change.detail["event_id"] == body["id"]
    assert change.detail["livemode"] is False
    assert change.detail["currency"] == "usd"


@pytest.mark.parametrize("name", EVENTS)
def test_detail_holds_no_card_details_emails_or_addresses(name: str) -> None:
    text = json.dumps(dict(one(load(name)).detail)).lower()
    for secret in ("4242", "visa", "fingerprint", "guest@example.com", "94103", "jenny", "rosen"):
        assert secret not in text
    for key in ("billing_details", "customer_details", "payment_method_details", "receipt_url"):
        assert key not in text


def test_a_refund_is_ordered_after_the_payment_it_undoes() -> None:
    paid = one(load("payment_intent.succeeded"))
    refunded = one(load("charge.refunded"))
    assert refunded.occurred_at > paid.occurred_at


# --- checkout.session.* -------------------------------------------------------------------


def test_checkout_completed_paid() -> None:
    change = one(load("checkout.session.completed"))
    assert change.event == "checkout_completed"
    assert change.payment_status == "paid"
    assert (change.payment_amount, change.payment_currency) == (2198, "usd")
    assert change.timeline_only is False
    assert change.status is None  # a payment never moves the booking state
    assert change.detail == {
        "event_id": "evt_1NG8Du2eZvKYlo2CcHkAxFz1",
        "object": "checkout.session",
        "id": CS,
        "checkout_session": CS,
        "payment_intent": PI,
        "customer": "cus_NciAYcXfLnqBoz",
        "amount": 2198,
        "currency": "usd",
        "livemode": False,
        "stripe_payment_status": "paid",
    }


def test_checkout_fixture_links_to_calcom_bookings() -> None:
    # client_reference_id "hub-session-4f2a9c" is no UUID: it is read as a Cal.com booking uid;
    # metadata.hub_session_id is not the key the hub writes (sessionhub_session_id)
    change = one(load("checkout.session.completed"))
    assert change.session_id is None
    assert change.links == (
        LinkRef(CALCOM, "hub-session-4f2a9c"),
        LinkRef(CALCOM, "unique-booking-id"),
    )


@pytest.mark.parametrize(
    ("stripe_status", "status", "amount"),
    [("paid", "paid", 2198), ("unpaid", "pending", 2198), ("no_payment_required", "paid", 0)],
)
def test_checkout_completed_payment_status(stripe_status: str, status: str, amount: int) -> None:
    change = one(checkout(payment_status=stripe_status))
    assert (change.payment_status, change.payment_amount) == (status, amount)
    assert change.detail["stripe_payment_status"] == stripe_status


@pytest.mark.parametrize("value", ["refunded", "", None, 3])
def test_checkout_completed_unknown_payment_status_is_invalid(value: Any) -> None:
    with pytest.raises(InvalidPayload, match="payment_status .* is unknown"):
        to_changes(checkout(payment_status=value))


def test_checkout_async_payment_succeeded() -> None:
    change = one(checkout("checkout.session.async_payment_succeeded"))
    assert (change.event, change.payment_status) == ("async_payment_succeeded", "paid")
    assert (change.payment_amount, change.payment_currency) == (2198, "usd")
    assert change.external_id == PI


def test_checkout_async_payment_failed() -> None:
    change = one(checkout("checkout.session.async_payment_failed", payment_status="unpaid"))
    assert (change.event, change.payment_status) == ("async_payment_failed", "failed")
    assert change.external_id == PI


def test_checkout_expired_is_ignored() -> None:
    assert to_changes(checkout("checkout.session.expired", payment_status="unpaid")) == ()


def test_checkout_without_payment_intent_is_known_by_the_session_id() -> None:
    change = one(checkout(payment_intent=None))
    assert change.external_id == CS
    assert "payment_intent" not in change.detail


def test_checkout_with_an_expanded_payment_intent() -> None:
    change = one(checkout(payment_intent={"id": PI, "object": "payment_intent"}))
    assert change.external_id == PI


def test_upper_case_currency_is_lowered() -> None:
    assert one(checkout(currency="EUR")).payment_currency == "eur"


# --- payment_intent.* ---------------------------------------------------------------------


def test_payment_intent_succeeded() -> None:
    change = one(load("payment_intent.succeeded"))
    assert (change.event, change.payment_status) == ("payment_succeeded", "paid")
    assert (change.payment_amount, change.payment_currency) == (2198, "usd")
    assert change.detail["payment_intent"] == PI
    assert change.detail["latest_charge"] == CHARGE
    assert "client_secret" not in json.dumps(dict(change.detail))


def test_payment_intent_succeeded_uses_amount_received() -> None:
    assert one(variant("payment_intent.succeeded", amount_received=1500)).payment_amount == 1500


def test_payment_intent_succeeded_falls_back_to_amount() -> None:
    assert one(variant("payment_intent.succeeded", amount_received=None)).payment_amount == 2198


FAILURE = {
    "charge": CHARGE,
    "code": "card_declined",
    "decline_code": "insufficient_funds",
    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
    "message": "Your card has insufficient funds, Jenny Rosen.",
    "payment_method": {
        "id": "pm_1",
        "billing_details": {"email": "jenny@example.com", "name": "Jenny Rosen"},
        "card": {"brand": "visa", "last4": "4242"},
    },
    "type": "card_error",
}


def test_payment_intent_payment_failed_keeps_only_the_codes() -> None:
    body = variant(
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        status="requires_payment_method",
        amount_received=0,
        last_payment_error=FAILURE,
    )
    change = one(body)
    assert (change.event, change.payment_status) == ("payment_failed", "failed")
    assert change.detail["failure_code"] == "card_declined"
    assert change.detail["decline_code"] == "insufficient_funds"
    text = json.dumps(dict(change.detail)).lower()
    for leak in ("jenny", "insufficient funds,", "4242", "visa", "example.com", "pm_1"):
        assert leak not in text


def test_payment_intent_payment_failed_without_error_details() -> None:
    body = variant("payment_intent.succeeded", "payment_intent.payment_failed")
    change = one(body)
    assert change.payment_status == "failed"
    assert "failure_code" not in change.detail


def test_payment_intent_processing_is_pending() -> None:
    body = variant("payment_intent.succeeded", "payment_intent.processing", status="processing")
    change = one(body)
    assert (change.event, change.payment_status) == ("payment_processing", "pending")
    assert change.external_id == PI


def test_payment_intent_canceled_is_ignored() -> None:
    body = variant("payment_intent.succeeded", "payment_intent.canceled", status="canceled")
    assert to_changes(body) == ()


# --- charge.refunded ----------------------------------------------------------------------


def test_charge_refunded_in_full() -> None:
    change = one(load("charge.refunded"))
    assert (change.event, change.payment_status) == ("refunded", "refunded")
    assert (change.payment_amount, change.payment_currency) == (2198, "usd")
    assert change.external_id == PI
    assert change.detail["amount_refunded"] == 2198
    assert change.detail["charge"] == CHARGE


def test_charge_partially_refunded() -> None:
    change = one(variant("charge.refunded", amount_refunded=1000, refunded=False))
    assert change.payment_status == "partially_refunded"
    assert change.payment_amount == 2198  # what was paid stays the amount
    assert change.detail["amount_refunded"] == 1000


def test_charge_refunded_flag_counts_as_full() -> None:
    assert one(variant("charge.refunded", amount_refunded=1000)).payment_status == "refunded"


@pytest.mark.parametrize("field", ["amount", "amount_refunded"])
def test_charge_refunded_needs_the_amounts(field: str) -> None:
    with pytest.raises(InvalidPayload, match=f"data.object.{field} is missing"):
        to_changes(variant("charge.refunded", **{field: None}))


def test_charge_without_payment_intent_is_known_by_the_charge_id() -> None:
    assert one(variant("charge.refunded", payment_intent=None)).external_id == CHARGE


# --- charge.dispute.created ---------------------------------------------------------------


def test_dispute_is_flagged_for_ops_on_the_timeline() -> None:
    change = one(load("charge.dispute.created"))
    assert change.event == "dispute_opened"
    assert change.timeline_only is True
    assert change.payment_status is None
    assert change.payment_amount is None
    assert change.external_id == PI
    assert change.detail == {
        "event_id": "evt_1MtJUU2eZvKYlo2CgVb3dT9Q",
        "object": "dispute",
        "id": "du_1MtJUT2eZvKYlo2CNaw2HvEv",
        "dispute": "du_1MtJUT2eZvKYlo2CNaw2HvEv",
        "payment_intent": PI,
        "charge": CHARGE,
        "amount": 2198,
        "currency": "usd",
        "reason": "general",
        "status": "warning_needs_response",
        "livemode": False,
        "flag": "ops",
    }


def test_dispute_without_payment_intent_is_known_by_the_charge_id() -> None:
    # the docs' Dispute example has "payment_intent": null (a Charges-API payment)
    assert one(variant("charge.dispute.created", payment_intent=None)).external_id == CHARGE


def test_dispute_naming_no_payment_is_invalid() -> None:
    body = variant("charge.dispute.created", payment_intent=None, charge=None)
    with pytest.raises(InvalidPayload, match="names no payment"):
        to_changes(body)


# --- ignored and invalid ------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    ["setup_intent.created", "customer.created", "charge.succeeded", "invoice.paid", "x"],
)
def test_other_types_are_ignored(event_type: str) -> None:
    assert to_changes({**load("charge.refunded"), "type": event_type}) == ()


def test_ignored_types_need_no_created() -> None:
    assert to_changes({"type": "charge.updated", "id": "evt_1"}) == ()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": None}, "type is missing"),
        ({"data": {}}, "data.object is missing"),
        ({"data": {"object": "ch_1"}}, "data.object is missing"),
        ({"data": {"object": {"object": "charge"}}}, "data.object.id is missing"),
        ({"created": None}, "created is missing"),
        ({"created": "1679700001"}, "created is not an int"),
        ({"created": True}, "created is not an int"),
        ({"created": 10**20}, "created is not a Unix timestamp"),
    ],
)
def test_invalid_events(change: dict[str, Any], reason: str) -> None:
    body = {**load("charge.refunded"), **change}
    if body["created"] is None:
        del body["created"]
    with pytest.raises(InvalidPayload, match=reason):
        to_changes(body)


def test_from_unix() -> None:
    assert from_unix(1679700001, "created") == datetime(2023, 3, 24, 23, 20, 1, tzinfo=UTC)
