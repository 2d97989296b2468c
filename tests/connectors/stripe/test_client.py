"""Stripe REST client: headers, event listing params and paging, lookups, rate limits, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from responses import matchers

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.stripe import StripeClient
from connectors.stripe.client import unix_seconds

API = "https://api.stripe.test"
KEY = "sk_test_hub_key"
HEADERS = {"Authorization": f"Bearer {KEY}", "Stripe-Version": "2024-06-20"}
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
CS = "cs_test_a11YYufWQzNY63zpQ6QSNRQhkUpVph4WRmzW0zWJO2znZKdVujZ0N0S22u"


def event(ident: str) -> dict[str, Any]:
    return {"id": ident, "object": "event", "type": "charge.refunded", "data": {"object": {}}}


def page(ids: list[str], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "url": "/v1/events",
        "has_more": has_more,
        "data": [event(i) for i in ids],
    }


def query(call: int = 0) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(responses.calls[call].request.url)).query)


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits: list[float]) -> StripeClient:
    return StripeClient(KEY, API, sleep=waits.append)


# --- events -------------------------------------------------------------------------------


@responses.activate
def test_list_events_sends_stripe_form_params(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page(["evt_1"], False))
    found = client.list_events(
        created_gte=SINCE,
        types=["checkout.session.completed", "charge.refunded"],
        delivery_success=False,
        limit=50,
    )
    assert [e["id"] for e in found] == ["evt_1"]
    assert query() == {
        "created[gte]": ["1772323200"],
        "types[]": ["checkout.session.completed", "charge.refunded"],
        "delivery_success": ["false"],
        "limit": ["50"],
    }
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"
    assert responses.calls[0].request.headers["Stripe-Version"] == "2024-06-20"


@responses.activate
def test_list_events_defaults(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page([], False))
    assert list(client.list_events()) == []
    assert query() == {"limit": ["100"]}


@responses.activate
def test_list_events_delivery_success_true(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page([], False))
    list(client.list_events(delivery_success=True))
    assert query()["delivery_success"] == ["true"]


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (-5, "1"), (1000, "100")])
@responses.activate
def test_list_events_limit_is_clamped(client: StripeClient, asked: int, sent: str) -> None:
    responses.get(f"{API}/v1/events", json=page([], False))
    list(client.list_events(limit=asked))
    assert query()["limit"] == [sent]


@responses.activate
def test_list_events_pages_with_starting_after(client: StripeClient) -> None:
    common = {"limit": "2", "types[]": "charge.refunded"}
    pages = [(None, ["evt_5", "evt_4"], True), ("evt_4", ["evt_3", "evt_2"], True)]
    pages.append(("evt_2", ["evt_1"], False))
    for after, ids, more in pages:
        params = {**common, **({"starting_after": after} if after else {})}
        responses.get(
            f"{API}/v1/events",
            json=page(ids, more),
            match=[matchers.query_param_matcher(params), matchers.header_matcher(HEADERS)],
        )
    found = client.list_events(types=["charge.refunded"], limit=2)
    assert [e["id"] for e in found] == ["evt_5", "evt_4", "evt_3", "evt_2", "evt_1"]
    assert len(responses.calls) == 3


@responses.activate
def test_list_events_is_lazy(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page(["evt_2"], True))
    found = client.list_events(limit=1)
    assert next(found)["id"] == "evt_2"
    assert len(responses.calls) == 1


@responses.activate
def test_list_events_stops_when_has_more_is_false_even_on_a_full_page(
    client: StripeClient,
) -> None:
    responses.get(f"{API}/v1/events", json=page(["evt_2", "evt_1"], False))
    assert len(list(client.list_events(limit=2))) == 2
    assert len(responses.calls) == 1


@responses.activate
def test_list_events_stops_when_the_cursor_repeats(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page(["evt_1"], True))
    assert [e["id"] for e in client.list_events(limit=1)] == ["evt_1", "evt_1"]
    assert len(responses.calls) == 2


@responses.activate
def test_list_events_stops_on_an_empty_page_that_claims_more(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json=page([], True))
    assert list(client.list_events()) == []
    assert len(responses.calls) == 1


@responses.activate
def test_list_events_without_data_is_permanent(client: StripeClient) -> None:
    responses.get(f"{API}/v1/events", json={"object": "list"})
    with pytest.raises(PermanentError, match="data is not a list"):
        list(client.list_events())


def test_naive_created_gte_is_refused(client: StripeClient) -> None:
    with pytest.raises(ValueError, match="naive"):
        list(client.list_events(created_gte=datetime(2026, 3, 1)))  # noqa: DTZ001


def test_unix_seconds() -> None:
    assert unix_seconds(SINCE) == 1772323200


# --- lookups ------------------------------------------------------------------------------


@responses.activate
def test_get_checkout_session(client: StripeClient) -> None:
    session = {"id": CS, "object": "checkout.session", "payment_intent": PI}
    responses.get(
        f"{API}/v1/checkout/sessions/{CS}", json=session, match=[matchers.header_matcher(HEADERS)]
    )
    assert client.get_checkout_session(CS) == session


@responses.activate
def test_get_payment_intent(client: StripeClient) -> None:
    intent = {"id": PI, "object": "payment_intent", "status": "succeeded"}
    responses.get(
        f"{API}/v1/payment_intents/{PI}", json=intent, match=[matchers.header_matcher(HEADERS)]
    )
    assert client.get_payment_intent(PI) == intent


@responses.activate
def test_ids_are_one_path_segment(client: StripeClient) -> None:
    responses.get(f"{API}/v1/payment_intents/pi_1%2F..%2Fevents", json={"id": "x"})
    client.get_payment_intent("pi_1/../events")
    assert len(responses.calls) == 1


def test_an_empty_id_is_refused(client: StripeClient) -> None:
    with pytest.raises(ValueError, match="id is required"):
        client.get_payment_intent("")


@responses.activate
def test_missing_object_is_not_found(client: StripeClient) -> None:
    error = {
        "error": {
            "code": "resource_missing",
            "message": "No such payment_intent: 'pi_nope'",
            "type": "invalid_request_error",
        }
    }
    responses.get(f"{API}/v1/payment_intents/pi_nope", status=404, json=error)
    with pytest.raises(NotFound, match="No such payment_intent") as caught:
        client.get_payment_intent("pi_nope")
    assert caught.value.status == 404


@responses.activate
def test_default_base_url_is_stripe() -> None:
    responses.get(f"https://api.stripe.com/v1/payment_intents/{PI}", json={"id": PI})
    assert StripeClient(KEY).get_payment_intent(PI)["id"] == PI


# --- rate limits and errors ---------------------------------------------------------------


@responses.activate
def test_429_honours_retry_after(client: StripeClient, waits: list[float]) -> None:
    responses.get(
        f"{API}/v1/events",
        status=429,
        json={"error": {"type": "invalid_request_error", "code": "rate_limit"}},
        headers={"Retry-After": "2"},
    )
    responses.get(f"{API}/v1/events", json=page(["evt_1"], False))
    assert [e["id"] for e in client.list_events()] == ["evt_1"]
    assert waits == [2.0]


@responses.activate
def test_429_storm_ends_in_transient_error(client: StripeClient, waits: list[float]) -> None:
    responses.get(f"{API}/v1/payment_intents/{PI}", status=429, headers={"Retry-After": "1"})
    with pytest.raises(TransientError):
        client.get_payment_intent(PI)
    assert len(responses.calls) == 4
    assert waits == [1.0, 1.0, 1.0]


@responses.activate
def test_5xx_is_retried(client: StripeClient, waits: list[float]) -> None:
    responses.get(f"{API}/v1/checkout/sessions/{CS}", status=503)
    responses.get(f"{API}/v1/checkout/sessions/{CS}", json={"id": CS})
    assert client.get_checkout_session(CS)["id"] == CS
    assert len(waits) == 1


@responses.activate
def test_bad_key_is_an_auth_error(client: StripeClient) -> None:
    error = {"error": {"message": "Invalid API Key provided: sk_test_****_key", "type": "x"}}
    responses.get(f"{API}/v1/events", status=401, json=error)
    with pytest.raises(AuthError) as caught:
        list(client.list_events())
    assert KEY not in str(caught.value)
    assert len(responses.calls) == 1


@responses.activate
def test_restricted_key_without_permission_is_permanent(client: StripeClient) -> None:
    error = {"error": {"message": "The provided key does not have the required permissions"}}
    responses.get(f"{API}/v1/events", status=403, json=error)
    with pytest.raises(PermanentError, match="required permissions") as caught:
        list(client.list_events())
    assert not isinstance(caught.value, AuthError)
