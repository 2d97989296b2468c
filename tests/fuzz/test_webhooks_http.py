"""Fuzzing `POST /webhooks/<slug>` end to end (Flask test client, SQLite, in-process queue).

Unsigned or garbage requests: never a 5xx and nothing stored. Validly signed mutations of
the real payloads: accepted, stored once, and the ingest job always ends the delivery in a
final state (`processed`, `ignored`, `waiting`, or `failed` with a reason) — a crash that
leaves it `received` for the retry machinery is a poison pill.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from app.models import WebhookDelivery
from connectors.outlook.const import MAX_NOTIFICATIONS
from tests.conftest import AppFactory, drain, hub_of
from tests.fuzz.signers import (
    CALCOM_SECRET,
    DAILY_SECRET,
    STRIPE_SECRET,
    TARGETS,
    daily_headers,
    stripe_header,
)
from tests.fuzz.strategies import (
    FUZZ_HTTP,
    FUZZ_HTTP_PG,
    any_body,
    dumps,
    headers_for,
    mutated,
    samples,
)

SLUGS = ["calcom", "daily", "stripe", "google", "outlook"]
SECRETS = {"calcom": (CALCOM_SECRET,), "daily": (DAILY_SECRET,), "stripe": (STRIPE_SECRET,)}
FINAL = {"processed", "ignored", "waiting", "failed"}


@pytest.fixture
def app(make_app: AppFactory, sqlite_url: str) -> Flask:
    return make_app(sqlite_url, webhook_secrets=SECRETS)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored(app: Flask) -> int:
    with hub_of(app).db.session() as db:
        return int(db.exec(select(func.count()).select_from(WebhookDelivery)).one())


def signed_now(slug: str, raw: bytes) -> dict[str, str]:
    """Valid signature headers made with the real clock (the route's connectors use it)."""
    now = datetime.now(UTC)
    if slug == "daily":
        return daily_headers(raw, at=now)
    if slug == "stripe":
        return {"Stripe-Signature": stripe_header(raw, at=now)}
    return dict(TARGETS[slug].sign(raw))


def _wire(text: str) -> str:
    """What survives an HTTP/1.1 header line: latin-1, no line breaks."""
    return "".join(c for c in text if ord(c) < 256 and len((c + "x").splitlines()) == 1)


ALL_HEADERS = headers_for(sorted({h for t in TARGETS.values() for h in t.header_names})).map(
    lambda h: {k: _wire(v) for k, v in h.items() if _wire(k).strip() == k and k}
)


@FUZZ_HTTP
@given(
    slug=st.sampled_from([*SLUGS, "nope", "CALCOM", "..%2f"]),
    headers=ALL_HEADERS,
    raw=any_body(),
    query=st.dictionaries(st.sampled_from(["validationToken", "x"]), st.text(max_size=30)),
)
def test_unsigned_requests_never_5xx_and_never_stored(
    app: Flask, client: FlaskClient, slug: str, headers: dict[str, str], raw: bytes, query: Any
) -> None:
    before = stored(app)
    resp = client.post(f"/webhooks/{slug}", data=raw, headers=headers, query_string=query)
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    assert stored(app) == before
    if resp.status_code >= 400:
        body = resp.get_json()
        assert set(body) >= {"error", "message"}
    elif slug in SECRETS:
        # only a handshake (Daily's creation probe) answers a request that proves nothing
        assert slug == "daily", resp.get_data(as_text=True)[:300]
        assert resp.get_json() == {"status": "ok"}


def signed_mutation_ends_in_a_final_state(
    app: Flask, client: FlaskClient, slug: str, data: st.DataObject
) -> None:
    doc = data.draw(mutated(data.draw(st.sampled_from(samples(slug)), "sample")), "mutated")
    raw = dumps(doc)
    before = stored(app)
    resp = client.post(f"/webhooks/{slug}", data=raw, headers=signed_now(slug, raw))
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    if resp.status_code != 200:  # only Daily's probe shape is answered without storing
        assert stored(app) == before
        event(f"answered {resp.status_code}")
        return
    if resp.get_json() == {"status": "ok"}:
        assert slug == "daily"
        return
    drain(app)
    with hub_of(app).db.session() as db:
        row = db.get(WebhookDelivery, resp.get_json()["delivery_id"])
    assert row is not None
    assert row.state in FINAL, (row.state, row.attempts, row.last_error)
    event(f"delivery {row.state}")
    if row.state == "failed":
        assert row.last_error
    assert row.attempts >= 1


@pytest.mark.parametrize("slug", ["calcom", "daily", "stripe"])
@FUZZ_HTTP
@given(data=st.data())
def test_signed_mutated_payloads_always_end_in_a_final_state(
    app: Flask, client: FlaskClient, slug: str, data: st.DataObject
) -> None:
    signed_mutation_ends_in_a_final_state(app, client, slug, data)


@pytest.fixture
def pg_app(make_app: AppFactory, postgresql_url: str) -> Flask:
    return make_app(postgresql_url, webhook_secrets=SECRETS)


@pytest.mark.postgres
@pytest.mark.parametrize("slug", ["calcom", "daily", "stripe"])
@FUZZ_HTTP_PG
@given(data=st.data())
def test_signed_mutated_payloads_on_postgresql(
    pg_app: Flask, slug: str, data: st.DataObject
) -> None:
    """PostgreSQL refuses what SQLite stores (NUL, over-long text, big integers): again there."""
    signed_mutation_ends_in_a_final_state(pg_app, pg_app.test_client(), slug, data)


def test_a_graph_body_with_too_many_notifications_is_refused_at_once(
    app: Flask, client: FlaskClient
) -> None:
    """Each item costs the unauthenticated push route a lookup: the count is bounded."""
    items = [{"subscriptionId": f"s{i}", "resource": "r"} for i in range(MAX_NOTIFICATIONS + 1)]
    resp = client.post("/webhooks/outlook", json={"value": items})
    assert resp.status_code == 400
    assert f"lists {MAX_NOTIFICATIONS + 1} items" in resp.get_json()["message"]
    assert hub_of(app).queue.depth() == 0  # no stop-channel job per unknown item
    ok = client.post("/webhooks/outlook", json={"value": items[:MAX_NOTIFICATIONS]})
    assert ok.status_code == 202
