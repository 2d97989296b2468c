"""Clock skew through `POST /webhooks/<slug>`: a signed timestamp within the tolerance is
accepted whether the provider's clock is ahead of the hub's or behind it; beyond it, 401
with a reason naming the timestamp. Cal.com, Google and Outlook sign no timestamp."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlmodel import select

from app.models import WebhookDelivery
from connectors.daily import const as daily_const
from connectors.stripe import const as stripe_const
from tests.conftest import AppFactory, hub_of
from tests.fuzz.signers import DAILY_SECRET, STRIPE_SECRET, daily_headers, stripe_header
from tests.fuzz.strategies import samples

#: margin kept from the edge, far above the time between signing and verifying in a test
MARGIN = timedelta(seconds=30)
DAILY_WINDOW = (daily_const.TOLERANCE, daily_const.TOLERANCE)
STRIPE_WINDOW = (
    timedelta(seconds=stripe_const.TOLERANCE_SECONDS),
    timedelta(seconds=stripe_const.FUTURE_SECONDS),
)

Signer = Callable[[bytes, datetime], dict[str, str]]
PROVIDERS: dict[str, tuple[Signer, tuple[timedelta, timedelta]]] = {
    "daily": (lambda raw, at: daily_headers(raw, at=at), DAILY_WINDOW),
    "stripe": (lambda raw, at: {"Stripe-Signature": stripe_header(raw, at=at)}, STRIPE_WINDOW),
}


@pytest.fixture
def app(make_app: AppFactory, sqlite_url: str) -> Flask:
    secrets = {"daily": (DAILY_SECRET,), "stripe": (STRIPE_SECRET,)}
    return make_app(sqlite_url, webhook_secrets=secrets)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored(app: Flask) -> int:
    with hub_of(app).db.session() as db:
        return int(db.exec(select(func.count()).select_from(WebhookDelivery)).one())


def post(client: FlaskClient, slug: str, skew: timedelta, nonce: str) -> tuple[int, str]:
    """A real sample, made unique, signed by a provider whose clock is `skew` off ours."""
    body = samples(slug)[0]
    body["id"] = f"{body.get('id', 'evt')}-{nonce}"
    raw = json.dumps(body).encode()
    sign, _ = PROVIDERS[slug]
    resp = client.post(f"/webhooks/{slug}", data=raw, headers=sign(raw, datetime.now(UTC) + skew))
    return resp.status_code, resp.get_json().get("message", "")


@pytest.mark.parametrize("slug", sorted(PROVIDERS))
def test_skew_within_the_tolerance_is_accepted_both_ways(
    app: Flask, client: FlaskClient, slug: str
) -> None:
    behind, ahead = PROVIDERS[slug][1]
    for name, skew in [
        ("in step", timedelta(0)),
        ("provider behind", -(behind - MARGIN)),
        ("provider ahead", ahead - MARGIN),
    ]:
        status, message = post(client, slug, skew, name)
        assert status == 200, (name, message)
    assert stored(app) == 3


@pytest.mark.parametrize("slug", sorted(PROVIDERS))
def test_skew_beyond_the_tolerance_is_refused_naming_the_timestamp(
    app: Flask, client: FlaskClient, slug: str
) -> None:
    behind, ahead = PROVIDERS[slug][1]
    for name, skew in [
        ("provider behind", -(behind + MARGIN)),
        ("provider ahead", ahead + MARGIN),
        ("a day old (a replay)", -timedelta(days=1)),
    ]:
        status, message = post(client, slug, skew, name)
        assert status == 401, (name, message)
        assert "timestamp" in message, (name, message)
        assert "tolerance" in message, (name, message)
    assert stored(app) == 0
