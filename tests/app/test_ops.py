"""The dashboard's queries (app/ops.py) on SQLite and PostgreSQL, without HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session as Db

from app import ops
from app.models import (
    CalendarConnection,
    CalendarFeed,
    Coach,
    ProviderLink,
    Session,
    SessionEvent,
    WebhookDelivery,
)
from app.tally import tally
from tests.conftest import AppFactory, hub_of

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # far from the real clock the tallies use


def delivery(
    provider: str,
    ago: timedelta,
    *,
    state: str = "processed",
    took: float | None = 1.0,
    event_type: str = "BOOKING_CREATED",
    session_id: uuid.UUID | None = None,
) -> WebhookDelivery:
    received = NOW - ago
    return WebhookDelivery(
        provider=provider,
        dedupe_key=uuid.uuid4().hex,
        event_type=event_type,
        received_at=received,
        headers={"content-type": "application/json"},
        body=b"{}",
        state=state,
        processed_at=received + timedelta(seconds=took) if took is not None else None,
        session_id=session_id,
    )


def make_session(db: Db, coach: Coach, **extra: object) -> Session:
    values: dict[str, object] = {"attendee_email": "ann@example.com", "title": "Intro", **extra}
    session = Session(
        coach_id=coach.id,
        start_at=NOW + timedelta(days=1),
        end_at=NOW + timedelta(days=1, hours=1),
        **values,
    )
    db.add(session)
    db.flush()
    return session


def test_provider_counts_latency_and_last_delivery(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        # calcom: 10 in the last hour (latencies 1..10 s), 5 earlier today, 1 failed
        for i in range(1, 11):
            db.add(delivery("calcom", timedelta(minutes=5 + i), took=float(i)))
        for _ in range(5):
            db.add(delivery("calcom", timedelta(hours=5)))
        db.add(delivery("calcom", timedelta(minutes=2), state="failed", took=None))
        db.add(delivery("calcom", timedelta(days=3)))  # outside the day
        db.add(delivery("stripe", timedelta(hours=2), state="waiting", took=None))
    with hub.db.session() as db:
        stats = {s.provider: s for s in ops.provider_stats(db, NOW)}
    cal = stats["calcom"]
    assert cal.received == (11, 16)
    assert cal.processed == (10, 15)
    assert cal.failed == (1, 1)
    assert cal.p50_ms == 3000.0  # nearest rank over 1,1,1,1,1 and 1..10 s: the 8th of 15
    assert cal.p95_ms == 10000.0
    assert cal.last_at == NOW - timedelta(minutes=2)
    assert "1 failed in the last hour" in cal.alerts
    assert stats["stripe"].waiting == (0, 1)
    assert stats["stripe"].received == (0, 1)


def test_latency_percentiles_are_computed_in_sql(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        for i in range(1, 101):
            db.add(delivery("daily", timedelta(minutes=i), took=i / 10))
    with hub.db.session() as db:
        [(provider, p50, p95)] = ops.latency_by_provider(db, NOW - ops.DAY)
    assert provider == "daily"
    assert (p50, p95) == (5000.0, 9500.0)


def test_a_silent_provider_and_a_signature_spike_turn_red(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        # usually every ~10 minutes over the week, nothing for the last 6 hours
        for i in range(36, 1000):
            db.add(delivery("daily", timedelta(minutes=10 * i)))
        for i in range(1, 50):
            db.add(delivery("calcom", timedelta(minutes=3 * i)))
    for _ in range(7):
        tally(hub.db.engine, "calcom", "rejected")
    tally(hub.db.engine, "calcom", "duplicate")
    now = datetime.now(UTC)  # tallies are written at the real current hour
    with hub.db.session() as db:
        stats = {s.provider: s for s in ops.provider_stats(db, NOW)}
        live = {s.provider: s for s in ops.provider_stats(db, now)}
    assert stats["daily"].red
    assert stats["daily"].alerts[0].startswith("silent for 6 h")
    assert not stats["calcom"].red
    assert live["calcom"].rejected == (7, 7)
    assert live["calcom"].duplicates == (1, 1)
    assert any("7 signature failures" in a for a in live["calcom"].alerts)


def test_hourly_series_cover_24_hours(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        db.add(delivery("calcom", timedelta(minutes=10), took=2.0))
        db.add(delivery("calcom", timedelta(minutes=20), took=4.0))
        db.add(delivery("stripe", timedelta(hours=3, minutes=1)))
        db.add(delivery("stripe", timedelta(hours=30)))  # outside
    with hub.db.session() as db:
        counts = ops.delivery_series(db, NOW)
        latency = ops.latency_series(db, NOW)
    assert len(counts["x"]) == 24
    assert counts["x"][-1] == int(NOW.replace(minute=0).timestamp())
    assert counts["series"]["calcom"][-1] == 2
    assert sum(counts["series"]["calcom"]) == 2
    assert counts["series"]["stripe"][-4] == 1
    assert sum(counts["series"]["stripe"]) == 1
    assert latency["series"]["p50"][-1] == 2000.0
    assert latency["series"]["p95"][-1] == 4000.0
    assert latency["series"]["p50"][0] is None


def test_deliveries_search_and_pages(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        for i in range(7):
            db.add(delivery("calcom", timedelta(minutes=i), state="failed", took=None))
        db.add(delivery("stripe", timedelta(days=2), event_type="charge.refunded"))
    with hub.db.session() as db:
        first, cursor = ops.search_deliveries(db, ops.DeliveryFilter(state="failed"), size=5)
        rest, end = ops.search_deliveries(
            db, ops.DeliveryFilter(state="failed", before=cursor), size=5
        )
        typed, _ = ops.search_deliveries(db, ops.DeliveryFilter(event_type="charge."))
        dated, _ = ops.search_deliveries(
            db, ops.DeliveryFilter(day=(NOW - timedelta(days=2)).date())
        )
        none, _ = ops.search_deliveries(db, ops.DeliveryFilter(provider="daily"))
    assert len(first) == 5
    assert cursor is not None
    assert len(rest) == 2
    assert end is None
    assert [d["id"] for d in first] == sorted((d["id"] for d in first), reverse=True)
    assert "body" not in first[0]
    assert [d["event_type"] for d in typed] == ["charge.refunded"]
    assert [d["provider"] for d in dated] == ["stripe"]
    assert none == []


def test_sessions_found_by_id_external_id_and_email(app: Flask) -> None:
    hub = hub_of(app)
    with hub.db.session() as db:
        coach = Coach(email="coach@example.com", name="Coach")
        db.add(coach)
        db.flush()
        one = make_session(db, coach)
        other = make_session(db, coach, attendee_email="bob@example.com")
        db.add(ProviderLink(session_id=one.id, provider="calcom", external_id="uid-123"))
        db.add(SessionEvent(session_id=one.id, kind="created", version=1))
        db.add(SessionEvent(session_id=one.id, kind="confirmed", version=2))
        db.add(delivery("calcom", timedelta(minutes=1), session_id=one.id))
    with hub.db.session() as db:
        assert [s.id for s in ops.find_sessions(db, "uid-123")] == [one.id]
        assert [s.id for s in ops.find_sessions(db, str(other.id))] == [other.id]
        assert {s.id for s in ops.find_sessions(db, "ann@example.com")} == {one.id}
        assert len(ops.find_sessions(db, "coach@example.com")) == 2
        assert ops.find_sessions(db, "nothing") == []
        detail = ops.session_detail(db, one.id)
        assert ops.session_detail(db, uuid.uuid4()) is None
    assert detail is not None
    assert [e.kind for e in detail["events"]] == ["created", "confirmed"]
    assert [link.external_id for link in detail["links"]] == ["uid-123"]
    assert len(detail["deliveries"]) == 1


def test_session_health_counts_stuck_links_errors_and_flags(app: Flask) -> None:
    hub = hub_of(app)
    now = datetime.now(UTC)
    with hub.db.session() as db:
        coach = Coach(email="c@example.com")
        db.add(coach)
        db.flush()
        a = make_session(db, coach, needs_review=True)
        b = make_session(db, coach)
        old = now - timedelta(minutes=10)
        db.add(ProviderLink(session_id=a.id, provider="daily", state="pending", updated_at=old))
        db.add(ProviderLink(session_id=b.id, provider="daily", state="pending"))  # fresh
        db.add(ProviderLink(session_id=b.id, provider="google", state="error", last_error="boom"))
    tally(hub.db.engine, "calcom", "drift")
    with hub.db.session() as db:
        health = ops.session_health(db, now)
    assert (health.pending_too_long, health.link_errors, health.needs_review) == (1, 1, 1)
    assert health.drift_day == 1
    assert {link["provider"] for link in health.stuck_links} == {"daily", "google"}
    assert [s["id"] for s in health.review] == [a.id]


def test_connections_with_expiry_and_daily_webhook_state(app: Flask) -> None:
    from app.kv import write_value

    hub = hub_of(app)
    expires = NOW + timedelta(days=2)
    with hub.db.session() as db:
        coach = Coach(email="coach@example.com")
        db.add(coach)
        db.flush()
        good = CalendarConnection(coach_id=coach.id, provider="google", account_email="g@x")
        bad = CalendarConnection(
            coach_id=coach.id, provider="outlook", account_email="o@x", state="needs_reauth"
        )
        db.add_all([good, bad])
        db.flush()
        db.add(CalendarFeed(connection_id=good.id, calendar_id="a", channel_expires_at=expires))
        db.add(CalendarFeed(connection_id=good.id, calendar_id="b", channel_expires_at=NOW))
        write_value(db, "daily:webhook:state", "FAILED")
    with hub.db.session() as db:
        rows = ops.connections(db)
        daily = ops.daily_webhook(db, watched=True)
        counts = ops.connection_counts(db)
    assert [r["connection"].state for r in rows] == ["needs_reauth", "active"]  # trouble first
    assert rows[1]["channel_expires_at"] == NOW
    assert rows[1]["feeds"] == 2
    assert daily.red
    assert daily.state == "FAILED"
    assert counts == {"active": 1, "needs_reauth": 1}


def test_queue_stats_in_embedded_mode(app: Flask) -> None:
    hub = hub_of(app)
    hub.queue.enqueue("ingest:1", "jobs.ingest.ingest_delivery", 1)
    stats = ops.queue_stats(hub.queue, "in-process")
    assert stats.depth == 1
    assert stats.oldest_age is not None
    assert stats.oldest_age >= 0
    assert stats.workers == 0  # the tests run jobs by hand: no worker thread
    assert stats.failed == 0
    assert stats.red  # no worker alive


def test_human_duration() -> None:
    assert ops.human_duration(timedelta(seconds=42)) == "42 s"
    assert ops.human_duration(timedelta(minutes=90)) == "1 h 30 min"
    assert ops.human_duration(timedelta(days=2, hours=3)) == "2 d 3 h"


def test_refused_and_duplicate_webhooks_are_tallied_per_hour(app: Flask) -> None:
    from tests.testhook import event, registered, sign

    client = app.test_client()
    body = event()
    with registered():
        assert (
            client.post("/webhooks/testhook", data=body, headers=sign(body, "wrong")).status_code
            == 401
        )
        for _ in range(3):
            client.post("/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new"))
    with hub_of(app).db.session() as db:
        [stats] = [s for s in ops.provider_stats(db) if s.provider == "testhook"]
    assert stats.rejected == (1, 1)
    assert stats.duplicates == (2, 2)
    assert stats.received == (1, 1)


@pytest.mark.redis
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_queue_stats_on_redis(make_app: AppFactory, db_url: str, redis_url: str) -> None:
    app = make_app(db_url, redis_url)
    queue = hub_of(app).queue
    empty = ops.queue_stats(queue, "redis")
    assert (empty.depth, empty.oldest_age, empty.workers, empty.failed) == (0, None, 0, 0)
    queue.enqueue("ingest:7", "jobs.ingest.ingest_delivery", 7)
    stats = ops.queue_stats(queue, "redis")
    assert stats.depth == 1
    assert stats.oldest_age is not None
    assert 0 <= stats.oldest_age < 60
    assert stats.red  # a job waits and no worker is running
