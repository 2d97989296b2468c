"""The ops dashboard's pages through Flask's test client: sign-in, CSRF, masking, repairs."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.apikeys import create_key, revoke_key
from app.db import utcnow
from app.models import Coach, ProviderLink, Session, SessionEvent, WebhookDelivery
from tests.conftest import AppFactory, hub_of

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def ops_token(app: Flask, name: str = "ops-person", scopes: tuple[str, ...] = ("ops",)) -> str:
    with hub_of(app).db.session() as db:
        _, token = create_key(db, name, scopes)
    return token


def sign_in(client: FlaskClient, token: str, nxt: str = "") -> str:
    page = client.get("/dashboard/login").get_data(as_text=True)
    resp = client.post(
        "/dashboard/login", data={"api_key": token, "csrf_token": csrf_of(page), "next": nxt}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return resp.headers["Location"]


@pytest.fixture
def signed_in(app: Flask, client: FlaskClient) -> FlaskClient:
    sign_in(client, ops_token(app))
    return client


def add_delivery(app: Flask, **values: object) -> int:
    fields: dict[str, object] = {"provider": "calcom", "state": "failed", **values}
    row = WebhookDelivery(
        dedupe_key=uuid.uuid4().hex,
        event_type="BOOKING_CREATED",
        headers={
            "content-type": "application/json",
            "x-cal-signature-256": "f00dfeedcafe",
            "authorization": "Bearer abcdef123456",
        },
        body=json.dumps(
            {"payload": {"uid": "bk-1", "access_token": "ya29.SECRET", "client_secret": "cs_X"}}
        ).encode(),
        last_error="boom",
        **fields,
    )
    with hub_of(app).db.session() as db:
        db.add(row)
        db.flush()
        assert row.id is not None
        return row.id


def test_anonymous_pages_redirect_to_sign_in(client: FlaskClient) -> None:
    for path in ("/dashboard", "/dashboard/deliveries?state=failed", "/dashboard/jobs"):
        resp = client.get(path)
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/dashboard/login?next=")
    assert "state%3Dfailed" in client.get("/dashboard/deliveries?state=failed").headers["Location"]
    login = client.get("/dashboard/login")
    assert login.status_code == 200
    assert "Sign in to the ops dashboard" in login.get_data(as_text=True)


def test_sign_in_with_an_ops_key_then_sign_out(app: Flask, client: FlaskClient) -> None:
    where = sign_in(client, ops_token(app), nxt="/dashboard/jobs")
    assert where == "/dashboard/jobs"
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ops-person" in html
    assert "Providers" in html
    assert page.headers["Cache-Control"] == "no-store"
    cookie = page.request.environ.get("HTTP_COOKIE", "")
    assert cookie, "the session cookie was sent"
    out = client.post("/dashboard/logout", data={"csrf_token": csrf_of(html)})
    assert out.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_session_cookie_is_httponly_and_samesite(app: Flask, client: FlaskClient) -> None:
    page = client.get("/dashboard/login").get_data(as_text=True)
    resp = client.post(
        "/dashboard/login", data={"api_key": ops_token(app), "csrf_token": csrf_of(page)}
    )
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_sign_in_refuses_unknown_and_non_ops_keys(app: Flask, client: FlaskClient) -> None:
    platform = ops_token(app, "platform", ("api",))
    for token, expected in ((platform, "has no ops scope"), ("shk_nope", "unknown or revoked")):
        page = client.get("/dashboard/login").get_data(as_text=True)
        resp = client.post("/dashboard/login", data={"api_key": token, "csrf_token": csrf_of(page)})
        assert resp.status_code == 401
        assert expected in resp.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_open_redirects_are_refused(app: Flask, client: FlaskClient) -> None:
    assert sign_in(client, ops_token(app), nxt="https://evil.example/") == "/dashboard"
    client.post("/dashboard/logout", data={"csrf_token": csrf_of(client.get("/dashboard").text)})
    assert sign_in(client, ops_token(app, "other"), nxt="//evil.example/x") == "/dashboard"


def test_revoking_the_key_ends_the_dashboard_session(app: Flask, signed_in: FlaskClient) -> None:
    assert signed_in.get("/dashboard").status_code == 200
    with hub_of(app).db.session() as db:
        revoke_key(db, "ops-person")
    assert signed_in.get("/dashboard").status_code == 302


def test_a_post_without_csrf_token_is_refused(app: Flask, signed_in: FlaskClient) -> None:
    delivery_id = add_delivery(app)
    missing = signed_in.post(f"/dashboard/deliveries/{delivery_id}/replay")
    assert missing.status_code == 400
    assert 'data-error="csrf_missing"' in missing.get_data(as_text=True)
    wrong = signed_in.post(
        f"/dashboard/deliveries/{delivery_id}/replay", data={"csrf_token": "forged"}
    )
    assert wrong.status_code == 400
    assert 'data-error="csrf_invalid"' in wrong.get_data(as_text=True)
    assert hub_of(app).queue.depth() == 0  # nothing was queued
    # an anonymous form post (no session at all) is refused the same way
    anonymous = app.test_client().post("/dashboard/login", data={"api_key": "x"})
    assert anonymous.status_code == 400


def test_delivery_page_masks_secrets_and_replays(app: Flask, signed_in: FlaskClient) -> None:
    delivery_id = add_delivery(app)
    page = signed_in.get(f"/dashboard/deliveries/{delivery_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for secret in ("ya29.SECRET", "cs_X", "f00dfeedcafe", "abcdef123456"):
        assert secret not in html
    assert "bk-1" in html
    assert "••••••" in html
    resp = signed_in.post(
        f"/dashboard/deliveries/{delivery_id}/replay", data={"csrf_token": csrf_of(html)}
    )
    assert resp.status_code == 302
    assert hub_of(app).queue.depth() == 1
    assert "queued for replay" in signed_in.get(resp.headers["Location"]).get_data(as_text=True)


def test_deliveries_search_page(app: Flask, signed_in: FlaskClient) -> None:
    failed = add_delivery(app)
    done = add_delivery(app, provider="stripe")
    with hub_of(app).db.session() as db:
        row = db.get(WebhookDelivery, done)
        assert row is not None
        row.state = "processed"
        db.add(row)
    html = signed_in.get("/dashboard/deliveries?state=failed").get_data(as_text=True)
    assert f'data-id="{failed}"' in html
    assert f'data-id="{done}"' not in html
    today = utcnow().date().isoformat()
    html = signed_in.get(f"/dashboard/deliveries?provider=stripe&date={today}").text
    assert f'data-id="{done}"' in html
    assert f'data-id="{failed}"' not in html
    assert signed_in.get("/dashboard/deliveries?state=nope").status_code == 400
    assert signed_in.get("/dashboard/deliveries?date=yesterday").status_code == 400
    assert signed_in.get("/dashboard/deliveries/999999").status_code == 404


def test_failed_jobs_retry_one_and_all_of_a_kind(app: Flask, signed_in: FlaskClient) -> None:
    queue = hub_of(app).queue
    queue.retry_intervals = ()  # fail for good at once
    for n in (1, 2, 3):
        queue.enqueue(f"ingest:{n}", "tests.app.test_dashboard.always_fails", n)
    with app.app_context():
        queue.run_until_idle()  # type: ignore[attr-defined]
    assert len(queue.failed()) == 3
    html = signed_in.get("/dashboard/jobs").get_data(as_text=True)
    assert "RuntimeError: upstream said no" in html
    assert "Traceback" in html
    one = queue.failed()[0]
    resp = signed_in.post(f"/dashboard/jobs/{one.id}/retry", data={"csrf_token": csrf_of(html)})
    assert resp.status_code == 302
    assert len(queue.failed()) == 2
    assert queue.depth() == 1
    resp = signed_in.post(
        "/dashboard/jobs/retry-kind", data={"csrf_token": csrf_of(html), "kind": "ingest"}
    )
    assert resp.status_code == 302
    assert queue.failed() == []
    assert queue.depth() == 3
    assert "2 failed ingest jobs queued again" in signed_in.get("/dashboard/jobs").text
    gone = signed_in.post(f"/dashboard/jobs/{one.id}/retry", data={"csrf_token": csrf_of(html)})
    assert gone.status_code == 404


def always_fails(n: int) -> None:
    raise RuntimeError("upstream said no (token=abc123secret)")


def test_session_search_timeline_and_reconcile(app: Flask, signed_in: FlaskClient) -> None:
    now = utcnow()
    with hub_of(app).db.session() as db:
        coach = Coach(email="coach@example.com", name="Cora")
        db.add(coach)
        db.flush()
        session = Session(
            coach_id=coach.id,
            start_at=now + timedelta(days=1),
            end_at=now + timedelta(days=1, hours=1),
            title="Kick-off",
            attendee_email="ann@example.com",
        )
        db.add(session)
        db.flush()
        db.add(ProviderLink(session_id=session.id, provider="calcom", external_id="uid-42"))
        db.add(SessionEvent(session_id=session.id, kind="booking_created", source="calcom"))
        db.add(SessionEvent(session_id=session.id, kind="rescheduled", source="calcom"))
        sid = session.id
    found = signed_in.get("/dashboard/sessions?q=uid-42").get_data(as_text=True)
    assert str(sid) in found
    assert "Kick-off" in found
    page = signed_in.get(f"/dashboard/sessions/{sid}").get_data(as_text=True)
    assert page.index("booking_created") < page.index("rescheduled")
    assert "uid-42" in page
    resp = signed_in.post(
        f"/dashboard/sessions/{sid}/reconcile", data={"csrf_token": csrf_of(page)}
    )
    assert resp.status_code == 302
    # the test hub writes to no provider: the page says so rather than pretending
    assert "Nothing to reconcile" in signed_in.get(resp.headers["Location"]).text
    assert signed_in.get(f"/dashboard/sessions/{uuid.uuid4()}").status_code == 404
    assert signed_in.get("/dashboard/sessions/not-an-id").status_code == 404


def test_overview_and_connections_render_with_an_empty_hub(signed_in: FlaskClient) -> None:
    html = signed_in.get("/dashboard").get_data(as_text=True)
    assert 'id="chart-data"' in html
    assert "<script>" not in html
    assert " style=" not in html
    assert "onclick" not in html
    assert signed_in.get("/dashboard/connections").status_code == 200
    assert signed_in.get("/dashboard/sessions").status_code == 200


def test_reconcile_now_queues_every_provider_the_hub_writes(
    make_app: AppFactory, db_url: str
) -> None:
    app = make_app(db_url, api_keys={"daily": "daily-key"})
    client = app.test_client()
    sign_in(client, ops_token(app))
    now = utcnow()
    with hub_of(app).db.session() as db:
        coach = Coach(email="coach@example.com")
        db.add(coach)
        db.flush()
        session = Session(coach_id=coach.id, start_at=now, end_at=now + timedelta(hours=1))
        db.add(session)
        db.flush()
        db.add(ProviderLink(session_id=session.id, provider="daily", external_id="hub-x"))
        db.add(ProviderLink(session_id=session.id, provider="calcom", external_id="uid-1"))
        sid = session.id
    page = client.get(f"/dashboard/sessions/{sid}").text
    for _ in range(2):
        resp = client.post(
            f"/dashboard/sessions/{sid}/reconcile", data={"csrf_token": csrf_of(page)}
        )
        assert resp.status_code == 302
    assert hub_of(app).queue.depth() == 1  # daily only (calcom is not writable), coalesced
    shown = client.get(resp.headers["Location"]).text
    assert "Reconciliation queued for daily." in shown
    assert "daily was already waiting in the queue" in shown
