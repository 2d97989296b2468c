"""Stripe REST client (read-only): the calls and nothing else, through connectors.http."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.errors import PermanentError
from connectors.http import BearerClient
from connectors.stripe import const


def unix_seconds(value: datetime) -> int:
    """An aware datetime as whole Unix seconds (Stripe's `created` unit)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return int(value.timestamp())


class StripeClient(BearerClient):
    """Stripe API v1 with a pinned Stripe-Version: events (recovery), Checkout, PaymentIntents."""

    slug = const.SLUG
    default_base_url = const.API_BASE_URL
    auth_statuses = const.AUTH_STATUSES
    pinned_headers = {const.API_VERSION_HEADER: const.API_VERSION}

    def list_events(
        self,
        *,
        created_gte: datetime | None = None,
        types: Sequence[str] = (),
        delivery_success: bool | None = None,
        limit: int = const.EVENTS_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every matching event (GET /v1/events, newest first), paging with `starting_after`.

        Stripe keeps events for 30 days; `delivery_success=False` finds the ones our endpoint
        never acknowledged (https://docs.stripe.com/webhooks/process-undelivered-events).
        """
        params: dict[str, Any] = {"limit": max(1, min(limit, const.EVENTS_PAGE))}
        if created_gte is not None:
            params["created[gte]"] = unix_seconds(created_gte)
        if types:
            params["types[]"] = list(types)  # requests repeats the key: types[]=a&types[]=b
        if delivery_success is not None:
            params["delivery_success"] = "true" if delivery_success else "false"
        seen: set[str] = set()
        while True:
            page = self.http.json("GET", "/v1/events", params=params)
            data = page.get("data")
            if not isinstance(data, list):
                raise PermanentError("stripe GET /v1/events: data is not a list")
            yield from (e for e in data if isinstance(e, dict))
            last = data[-1].get("id") if data and isinstance(data[-1], dict) else None
            if page.get("has_more") is not True or not isinstance(last, str) or last in seen:
                return
            seen.add(last)
            params = {**params, "starting_after": last}

    def get_checkout_session(self, session_id: str) -> dict[str, Any]:
        """GET /v1/checkout/sessions/{id}."""
        return self.http.json("GET", f"/v1/checkout/sessions/{_id(session_id)}")

    def get_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """GET /v1/payment_intents/{id}."""
        return self.http.json("GET", f"/v1/payment_intents/{_id(intent_id)}")


def _id(value: str) -> str:
    """A Stripe object id as one path segment."""
    if not value:
        raise ValueError("a Stripe object id is required")
    return quote(value, safe="")
