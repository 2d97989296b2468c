"""The inbox handoff: requests only insert; a worker enqueues what arrived, in batches."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

import app.handoff as handoff_mod
from app.handoff import InboxHandoff, _elected, batched
from app.inbox import store_delivery
from tests.conftest import AppFactory, drain, hub_of
from tests.procs import wait_for
from tests.testhook import TestHook, event, registered, sign

pytestmark = pytest.mark.redis
SECRET = "hook-secret-new"


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


@pytest.fixture
def live(make_app: AppFactory, db_url: str, redis_url: str) -> Flask:
    return make_app(db_url, redis_url, webhook_secrets={"testhook": (SECRET,)})


def post(app: Flask, body: bytes) -> dict[str, object]:
    resp = app.test_client().post("/webhooks/testhook", data=body, headers=sign(body, SECRET))
    assert resp.status_code == 200, resp.json
    found: dict[str, object] = resp.json
    return found


def states(app: Flask) -> list[str]:
    with hub_of(app).db.engine.connect() as conn:
        return [
            s for (s,) in conn.execute(text("SELECT state FROM webhook_deliveries ORDER BY id"))
        ]


def test_the_request_only_inserts_and_the_handoff_enqueues_once(live: Flask) -> None:
    h = hub_of(live)
    assert batched(h)
    handoff = InboxHandoff(h)
    assert handoff.run_once() == 0
    for n in range(3):
        post(live, event(id=f"evt-{n}"))
    assert h.queue.depth() == 0  # nothing enqueued by the requests
    assert handoff.run_once() == 3  # one batch
    assert h.queue.depth() == 3
    assert handoff.run_once() == 0  # handed off already: not again
    drain(live)
    assert states(live) == ["processed"] * 3


def test_a_row_committed_late_below_the_cursor_is_still_handed_off(live: Flask) -> None:
    """Ids come from a sequence before the commit: a lower id may appear after a higher one."""
    h = hub_of(live)
    handoff = InboxHandoff(h)
    handoff.run_once()
    first, _ = store_delivery(h.db.engine, "testhook", "k-1", "booking.upsert", {}, event(id="a"))
    with h.db.engine.begin() as conn:  # a row with a higher id commits first
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (id, provider, dedupe_key, event_type,"
                " received_at, headers, body, state, attempts) VALUES (:id, 'testhook', 'k-3',"
                " 'booking.upsert', CURRENT_TIMESTAMP, '{}', :body, 'received', 0)"
            ),
            {"id": first + 2, "body": event(id="c")},
        )
    assert handoff.run_once() == 2  # ids first and first + 2
    assert first + 1 in handoff.gaps  # skipped over: looked at again for a while
    with h.db.engine.begin() as conn:  # … and here it comes
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (id, provider, dedupe_key, event_type,"
                " received_at, headers, body, state, attempts) VALUES (:id, 'testhook', 'k-2',"
                " 'booking.upsert', CURRENT_TIMESTAMP, '{}', :body, 'received', 0)"
            ),
            {"id": first + 1, "body": event(id="b")},
        )
    assert handoff.run_once() == 1
    assert not handoff.gaps
    drain(live)
    assert states(live) == ["processed"] * 3


def test_ids_skipped_for_good_are_forgotten_after_the_grace(
    live: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = hub_of(live)
    handoff = InboxHandoff(h)
    handoff.run_once()
    first, _ = store_delivery(h.db.engine, "testhook", "k-1", "booking.upsert", {}, event(id="a"))
    handoff.cursor = first - 3  # two ids burnt by duplicate inserts, say
    assert handoff.run_once() == 1
    assert sorted(handoff.gaps) == [first - 2, first - 1]
    monkeypatch.setattr(handoff_mod, "GRACE", 0.0)
    handoff.run_once()
    assert handoff.gaps == {}


def test_the_handoff_starts_below_what_still_waits(live: Flask) -> None:
    h = hub_of(live)
    ids = [
        store_delivery(h.db.engine, "testhook", f"k-{n}", "booking.upsert", {}, event(id=f"{n}"))[0]
        for n in range(2)
    ]
    assert InboxHandoff(h).run_once() == 2  # a worker starting now takes both
    assert InboxHandoff(h).run_once() == 0  # queued already: coalesced by key
    assert ids


def test_direct_mode_enqueues_from_the_request(
    make_app: AppFactory, db_url: str, redis_url: str
) -> None:
    app = make_app(
        db_url, redis_url, webhook_secrets={"testhook": (SECRET,)}, inbox_handoff="direct"
    )
    assert not batched(hub_of(app))
    post(app, event())
    assert hub_of(app).queue.depth() == 1


def test_one_handoff_is_elected(
    live: Flask, make_app: AppFactory, db_url: str, redis_url: str
) -> None:
    other = make_app(db_url, redis_url)
    with _elected(hub_of(live)) as won, _elected(hub_of(other)) as also:
        assert (won, also) == (True, False)
    with _elected(hub_of(other)) as now:
        assert now  # released when the first one stopped


@pytest.mark.postgres
def test_hubs_in_other_schemas_elect_their_own(
    make_app: AppFactory, postgresql_url: str, redis_url: str
) -> None:
    h = hub_of(make_app(postgresql_url, redis_url))  # schemas are PostgreSQL's
    with _elected(h) as won, h.db.engine.connect() as other:
        assert won
        other.execute(text("CREATE SCHEMA IF NOT EXISTS handoff_other"))
        other.execute(text("SET search_path TO handoff_other"))
        got = other.execute(
            text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
            {"k": handoff_mod._LOCK_KEY},  # noqa: SLF001
        ).scalar()
        assert got  # another hub's handoff is not this one's
        other.execute(
            text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"),
            {"k": handoff_mod._LOCK_KEY},  # noqa: SLF001
        )
        other.execute(text("DROP SCHEMA handoff_other"))
        other.commit()


@pytest.mark.postgres
def test_the_handoff_thread_comes_back_after_its_connections_are_killed(
    make_app: AppFactory, postgresql_url: str, redis_url: str
) -> None:
    app = make_app(postgresql_url, redis_url, webhook_secrets={"testhook": (SECRET,)})
    h = hub_of(app)

    def handed_off(count: int) -> bool:
        return bool(wait_for(f"{count} handed off", lambda: h.queue.depth() >= count, timeout=10))

    stop = handoff_mod.start_thread(app, h)
    try:
        post(app, event(id="before"))
        assert handed_off(1)
        with h.db.engine.connect() as conn:  # the server drops every other connection
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                )
            ).scalar()
        assert killed
        post(app, event(id="after"))
        assert handed_off(2)
    finally:
        stop.set()
        for thread in threading.enumerate():  # it unlocks and closes its pool on the way out
            if thread.name == "sessionhub-handoff":
                thread.join(timeout=5)
    drain(app)
    assert states(app) == ["processed", "processed"]
