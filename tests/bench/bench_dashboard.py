"""Benchmark: the ops dashboard's pages with 100,000 deliveries and 10,000 sessions (PostgreSQL).

    .venv/bin/python -m tests.bench.bench_dashboard

Seeds a private PostgreSQL schema (dropped afterwards): 100,000 webhook deliveries spread over
30 days across Cal.com, Daily and Stripe (mostly processed, some failed / waiting), hourly
tallies of refused and duplicate deliveries, 200 coaches with linked calendars, 10,000 sessions
with their provider links and timelines, and dead-lettered jobs. Then times every dashboard page
over HTTP through Flask's test client, signed in as an ops key: the median (p50) of 25 requests
after 3 warm-ups. Prints ONE JSON object on stdout ({"figures": [...]}); logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import quote

import psycopg
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.apikeys import create_key
from app.config import Settings
from app.migrate import upgrade
from tests import services

log = logging.getLogger("bench.dashboard")

DELIVERIES = 100_000
SESSIONS = 10_000
COACHES = 200
DAYS = 30
WARMUP, RUNS = 3, 25
TARGET_MS = 300.0
PROVIDERS = (("calcom", 0.5), ("daily", 0.35), ("stripe", 0.15))
SIGNATURE_HEADERS = {
    "calcom": "x-cal-signature-256",
    "daily": "x-webhook-signature",
    "stripe": "stripe-signature",
}
TYPES = {
    "calcom": ("BOOKING_CREATED", "BOOKING_RESCHEDULED", "BOOKING_CANCELLED", "MEETING_ENDED"),
    "daily": ("meeting.started", "meeting.ended", "participant.joined", "participant.left"),
    "stripe": ("checkout.session.completed", "payment_intent.succeeded", "charge.refunded"),
}


@contextmanager
def private_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL, migrated to head; dropped on exit."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    base = services.PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}?options={quote(f'-csearch_path={schema}')}"
    try:
        upgrade(url)
        yield schema
    finally:
        with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _body(rng: random.Random, provider: str, event_type: str, uid: str) -> bytes:
    payload = {
        "triggerEvent": event_type,
        "createdAt": "2026-11-01T10:00:00Z",
        "payload": {
            "uid": uid,
            "title": "Coaching session",
            "attendees": [{"email": f"client{rng.randrange(10_000)}@example.com"}],
            "metadata": {"videoCallUrl": "https://example.daily.co/room"},
            "responses": {"notes": {"value": "x" * rng.randrange(100, 600)}},
        },
    }
    return json.dumps(payload).encode()


def seed(
    schema: str,
    now: datetime,
    rng: random.Random,
    deliveries: int = DELIVERIES,
    sessions_n: int = SESSIONS,
) -> None:
    """Fill the schema with COPY (fast) and ANALYZE it."""
    began = time.perf_counter()
    with psycopg.connect(services.PG_DSN, options=f"-csearch_path={schema}") as conn:
        coaches = [uuid.uuid4() for _ in range(COACHES)]
        with conn.cursor().copy(
            "COPY coaches (id, email, name, timezone, cancellation_notice_minutes, "
            "reminder_offsets_minutes, buffer_minutes, min_notice_minutes, horizon_days, "
            "auto_confirm, requires_payment, calendar_delete_policy, created_at, updated_at) "
            "FROM STDIN"
        ) as copy:
            for i, cid in enumerate(coaches):
                copy.write_row(
                    (cid, f"coach{i}@example.com", f"Coach {i}", "Europe/Paris", 1440,
                     "[1440, 60, 15]", 0, 60, 60, True, False, "flag", now, now)
                )  # fmt: skip
        conns = []
        with conn.cursor().copy(
            "COPY calendar_connections (id, coach_id, provider, account_email, scopes, state, "
            "busy_calendars, calendars, options, last_synced_at, last_error, created_at, "
            "updated_at) "
            "FROM STDIN"
        ) as copy:
            for i, cid in enumerate(coaches[:150]):
                conn_id = uuid.uuid4()
                conns.append(conn_id)
                state = "needs_reauth" if i % 37 == 0 else "active"
                error = "invalid_grant: Token has been expired or revoked." if i % 37 == 0 else None
                copy.write_row(
                    (conn_id, cid, "google" if i % 3 else "outlook", f"coach{i}@example.com",
                     "[]", state, "[]", "[]", "{}", now - timedelta(minutes=i % 20), error, now,
                     now)
                )  # fmt: skip
        with conn.cursor().copy(
            "COPY calendar_feeds (id, connection_id, calendar_id, channel_id, "
            "channel_expires_at, last_synced_at) FROM STDIN"
        ) as copy:
            for conn_id in conns:
                copy.write_row(
                    (uuid.uuid4(), conn_id, "primary", uuid.uuid4().hex,
                     now + timedelta(hours=rng.randrange(1, 160)), now - timedelta(minutes=5))
                )  # fmt: skip

        sessions: list[uuid.UUID] = []
        with conn.cursor().copy(
            "COPY sessions (id, coach_id, attendee_email, attendee_name, guests, title, kind, "
            "start_at, end_at, timezone, status, payment_status, version, source, source_clock, "
            "needs_review, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(sessions_n):
                sid = uuid.uuid4()
                sessions.append(sid)
                start = now + timedelta(hours=rng.randrange(-24 * DAYS, 24 * DAYS))
                status = rng.choice(("confirmed",) * 6 + ("cancelled", "completed", "requested"))
                copy.write_row(
                    (sid, coaches[i % COACHES], f"client{i}@example.com", f"Client {i}", "[]",
                     "Coaching session", "video", start, start + timedelta(minutes=45),
                     "Europe/Paris", status, "none", 3, "calcom", "{}", i % 400 == 0, now, now)
                )  # fmt: skip
        with conn.cursor().copy(
            "COPY provider_links (id, session_id, provider, external_id, active, synced_version, "
            "state, last_error, data, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i, sid in enumerate(sessions):
                for provider, ext in (
                    ("calcom", f"bk-{i}"),
                    ("daily", f"hub-{sid.hex}"),
                    ("google", f"ev{sid.hex}"),
                ):
                    state = "synced"
                    error = None
                    if provider == "google" and i % 250 == 0:
                        state, error = "error", "403 calendar not writable"
                    elif provider == "daily" and i % 300 == 0:
                        state = "pending"
                    updated = now - timedelta(minutes=rng.randrange(0, 60 * 24))
                    copy.write_row(
                        (uuid.uuid4(), sid, provider, ext, True, 3, state, error, "{}", now,
                         updated)
                    )  # fmt: skip
        with conn.cursor().copy(
            "COPY session_events (session_id, at, kind, source, version, applied, data) FROM STDIN"
        ) as copy:
            for sid in sessions:
                at = now - timedelta(days=rng.randrange(1, DAYS))
                for v, kind in enumerate(("created", "meeting_url_set", "rescheduled"), 1):
                    copy.write_row(
                        (sid, at + timedelta(minutes=v), kind, "calcom", v, True,
                         '{"fields": {"status": "confirmed"}}')
                    )  # fmt: skip

        weights = [w for _, w in PROVIDERS]
        names = [p for p, _ in PROVIDERS]
        with conn.cursor().copy(
            "COPY webhook_deliveries (provider, dedupe_key, event_type, received_at, headers, "
            "body, state, attempts, last_error, processed_at, session_id) FROM STDIN"
        ) as copy:
            # ids grow with time, as in a real inbox
            ages = sorted((rng.randrange(0, DAYS * 86400) for _ in range(deliveries)), reverse=True)
            for i, age in enumerate(ages):
                provider = rng.choices(names, weights)[0]
                received = now - timedelta(seconds=age)
                roll = rng.random()
                state, error, processed = "processed", None, None
                if roll < 0.02:
                    state, error = "failed", "no session is linked to that id"
                elif roll < 0.03:
                    state = "ignored"
                elif roll < 0.035:
                    state, error = "waiting", "waiting for its session"
                if state in ("processed", "ignored"):
                    processed = received + timedelta(seconds=rng.lognormvariate(-1.5, 0.8))
                sid = sessions[rng.randrange(sessions_n)] if state == "processed" else None
                event_type = rng.choice(TYPES[provider])
                headers = json.dumps({"content-type": "application/json", "x-signature": "f" * 64})
                copy.write_row(
                    (provider, f"{provider}:{i}", event_type, received, headers,
                     _body(rng, provider, event_type, f"bk-{i % sessions_n}"), state,
                     1, error, processed, sid)
                )  # fmt: skip
        with conn.cursor().copy(
            "COPY webhook_tallies (hour, provider, outcome, count) FROM STDIN"
        ) as copy:
            first = now.replace(minute=0, second=0, microsecond=0)
            for h in range(DAYS * 24):
                for provider in names:
                    copy.write_row((first - timedelta(hours=h), provider, "duplicate", 3))
                    if h % 5 == 0:
                        copy.write_row((first - timedelta(hours=h), provider, "rejected", 1))
        conn.commit()
        conn.execute("ANALYZE")
    log.info("seeded in %.1f s", time.perf_counter() - began)


def always_fails(n: int) -> None:
    """A job that ends in the dead-letter list."""
    raise RuntimeError(f"provider answered 500 for item {n}")


def sign_in(app: Flask) -> FlaskClient:
    hub = app.extensions["sessionhub"]
    with hub.db.session() as db:
        _, token = create_key(db, "bench-ops", ("ops",))
    client = app.test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = client.post("/dashboard/login", data={"api_key": token, "csrf_token": csrf})
    assert resp.status_code == 302, resp.status_code  # noqa: S101 - a bench precondition
    return client


def measure(client: FlaskClient, path: str) -> float:
    """The median milliseconds of RUNS requests after WARMUP."""
    times = []
    for n in range(WARMUP + RUNS):
        began = time.perf_counter()
        resp = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"{path} answered {resp.status_code}")
        if n >= WARMUP:
            times.append(elapsed)
    return statistics.median(times)


def main() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    rng = random.Random(9)  # noqa: S311 - test data, not secrets
    now = datetime.now(UTC)
    figures: list[dict[str, Any]] = []
    with private_schema() as schema, TemporaryDirectory() as tmp:
        seed(schema, now, rng)
        base = services.PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
        settings = Settings(
            database_url=f"{base}?options={quote(f'-csearch_path={schema}')}",
            redis_url=None,
            secret_key="bench-secret",
            encryption_keys=(Fernet.generate_key().decode(),),
            webhook_secrets={"calcom": ("s",), "daily": ("s",), "stripe": ("s",)},
            api_keys={"daily": "bench"},
            var_dir=Path(tmp),
            job_retry_intervals=(),
            testing=True,
        )
        app = create_app(settings, start_worker=False)
        hub = app.extensions["sessionhub"]
        for n in range(40):
            hub.queue.enqueue(f"reconcile:daily:{n}", "tests.bench.bench_dashboard.always_fails", n)
        with app.app_context():
            hub.queue.run_until_idle()
        client = sign_in(app)
        with hub.db.session() as db:
            failed_id = (
                db.connection()
                .exec_driver_sql("SELECT max(id) FROM webhook_deliveries WHERE state = 'failed'")
                .scalar_one()
            )
            sid = db.connection().exec_driver_sql("SELECT id FROM sessions LIMIT 1").scalar_one()
        day = (now - timedelta(days=3)).date().isoformat()
        pages = [
            ("dashboard overview page", "/dashboard"),
            ("dashboard connections page", "/dashboard/connections"),
            ("dashboard deliveries page", "/dashboard/deliveries"),
            ("dashboard deliveries search (failed)", "/dashboard/deliveries?state=failed"),
            (
                "dashboard deliveries search (provider, type, date)",
                f"/dashboard/deliveries?provider=stripe&type=charge.&date={day}",
            ),
            ("dashboard delivery detail page", f"/dashboard/deliveries/{failed_id}"),
            ("dashboard failed jobs page", "/dashboard/jobs"),
            ("dashboard sessions needing attention page", "/dashboard/sessions"),
            ("dashboard session search by Cal.com uid", "/dashboard/sessions?q=bk-4242"),
            ("dashboard session search by e-mail", "/dashboard/sessions?q=client77%40example.com"),
            ("dashboard session page (timeline)", f"/dashboard/sessions/{sid}"),
        ]
        try:
            for name, path in pages:
                p50 = measure(client, path)
                log.info("%-55s %7.1f ms", name, p50)
                figures.append(
                    {
                        "name": name,
                        "value": round(p50, 1),
                        "unit": "ms",
                        "stat": "p50",
                        "baseline": None,
                        "ratio": None,
                        "target": f"< {TARGET_MS:.0f} ms",
                        "met": p50 < TARGET_MS,
                    }
                )
        finally:
            hub.queue.close()
            hub.db.dispose()
    sys.stdout.write(json.dumps({"figures": figures}) + "\n")


if __name__ == "__main__":
    main()
