"""Bugs the fault tests (tests/faults) ran into, pinned down at unit level."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.config import Settings
from app.domain.sessions import apply_change
from app.locks import hub_lock, try_locks
from app.models import ProviderLink, Session
from app.queue import InProcessQueue, resolve
from app.sync import plan
from connectors.base import Change, LinkState, Person, PushResult, SessionView
from connectors.errors import TransientError
from jobs.sweeps import schedule
from tests.conftest import AppFactory, hub_of


def test_a_coachs_calcom_event_type_can_be_set_and_cleared(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    made = client.post(
        "/api/coaches",
        json={"email": "c@example.com", "timezone": "UTC", "calcom_event_type_id": 7},
        headers=auth,
    )
    assert made.status_code == 201, made.json
    assert made.json["calcom_event_type_id"] == 7
    cid = made.json["id"]
    patched = client.patch(f"/api/coaches/{cid}", json={"calcom_event_type_id": 4242}, headers=auth)
    assert (patched.status_code, patched.json["calcom_event_type_id"]) == (200, 4242)
    cleared = client.patch(f"/api/coaches/{cid}", json={"calcom_event_type_id": None}, headers=auth)
    assert cleared.json["calcom_event_type_id"] is None
    bad = client.patch(f"/api/coaches/{cid}", json={"calcom_event_type_id": "x"}, headers=auth)
    assert (bad.status_code, bad.json["field"]) == (400, "calcom_event_type_id")


def test_every_scheduled_sweep_exists(tmp_path: Path) -> None:
    everything = Settings(
        database_url="sqlite://",
        redis_url=None,
        secret_key="k",
        encryption_keys=("k",),
        var_dir=tmp_path,
        oauth={"google": {"client_id": "x"}},
        api_keys={"daily": "d", "stripe": "s", "calcom": "c"},
    )
    names = schedule(everything)
    assert "jobs.channels.sync_all" in names
    for name in names:
        assert callable(resolve(name)), name


def test_many_batch_locks_hold_one_connection(app: Flask) -> None:
    """Google's batch locks up to 50 sessions: on PostgreSQL that must not take 50 pooled
    connections (the pool has 15: the job blocked for 30 s, then failed, under any load)."""
    h = hub_of(app)
    things = [uuid.uuid4() for _ in range(60)]
    busy = things[3]
    with hub_lock(h, "reconcile", busy), try_locks(h, "reconcile", things) as taken:
        assert taken == [t for t in things if t != busy]  # the busy one is left to its job
        if h.db.dialect == "postgresql":
            assert h.db.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
        with try_locks(h, "reconcile", things[:5]) as again:
            assert again == []  # all taken (by this holder or the other)
    with try_locks(h, "reconcile", things) as after:
        assert after == things  # every lock was released


def test_a_change_committed_during_a_provider_write_is_written_next(
    make_app: AppFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider's own webhook about a write can be applied before the write's answer is
    recorded: the link must not be left `synced` at the older version (nothing would write
    the newer one); it stays pending and another reconcile is queued."""
    import jobs.reconcile as reconcile

    app = make_app(db_url, api_keys={"daily": "k"})
    h = hub_of(app)
    start = datetime(2031, 3, 3, 9, tzinfo=UTC)

    def change(**fields: Any) -> Change:
        return Change(
            source="calcom",
            external_id="bk-1",
            event="created",
            occurred_at=datetime.now(UTC),
            **fields,
        )

    with app.app_context():
        with h.db.session() as db:
            applied = apply_change(
                db,
                change(
                    create=True,
                    status="confirmed",
                    start_at=start,
                    end_at=start + timedelta(hours=1),
                    kind="video",
                    title="First",
                    coach=Person("coach@example.com", "Coach"),
                    attendee=Person("ann@example.com", "Ann"),
                ),
            )
            assert "daily" in plan(db, h, applied).providers
        sid = applied.session_id

        class Writer:
            def create(self, view: SessionView) -> PushResult:
                with h.db.session() as db:  # meanwhile, in another process: a newer change
                    apply_change(db, change(session_id=str(sid), title="Second"))
                return PushResult("hub-room", data={})

        monkeypatch.setattr(reconcile, "_writer", lambda *_: (Writer(), None))
        assert reconcile.reconcile(str(sid), "daily") == "create"
        with h.db.session() as db:
            session = db.get(Session, sid)
            [link] = db.exec(select(ProviderLink).where(ProviderLink.provider == "daily")).all()
            assert session is not None
            assert session.version == 2
            assert (link.state, link.synced_version, link.external_id) == ("pending", 1, "hub-room")
    queue = h.queue
    assert isinstance(queue, InProcessQueue)
    assert f"reconcile:daily:{sid}" in queue._pending  # noqa: SLF001 - queued again


def test_a_create_whose_answer_was_lost_is_deleted_when_the_session_is_cancelled(
    make_app: AppFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room was made but the answer timed out; then the session was cancelled. Settling
    the link without a call would leave the room at Daily for good."""
    import jobs.reconcile as reconcile

    app = make_app(db_url, api_keys={"daily": "k"})
    h = hub_of(app)
    start = datetime(2031, 3, 3, 9, tzinfo=UTC)
    calls: list[str] = []

    class Writer:
        def create(self, view: SessionView) -> PushResult:
            calls.append("create")
            raise TransientError("daily POST /rooms: ReadTimeout")  # made, answer lost

        def delete(self, view: SessionView, link: LinkState) -> None:
            calls.append(f"delete {link.external_id}")

    monkeypatch.setattr(reconcile, "_writer", lambda *_: (Writer(), None))
    with app.app_context():
        with h.db.session() as db:
            applied = apply_change(
                db,
                Change(
                    source="calcom",
                    external_id="bk-2",
                    event="created",
                    occurred_at=datetime.now(UTC),
                    create=True,
                    status="confirmed",
                    start_at=start,
                    end_at=start + timedelta(hours=1),
                    kind="video",
                    coach=Person("coach@example.com", "Coach"),
                    attendee=Person("ann@example.com", "Ann"),
                ),
            )
            plan(db, h, applied)
        sid = applied.session_id
        with pytest.raises(TransientError):
            reconcile.reconcile(str(sid), "daily")
        with h.db.session() as db:
            apply_change(
                db,
                Change(
                    source="calcom",
                    external_id="bk-2",
                    event="cancelled",
                    occurred_at=datetime.now(UTC),
                    status="cancelled",
                ),
            )
        assert reconcile.reconcile(str(sid), "daily") == "delete"
        assert calls == ["create", "delete None"]  # the writer finds the room by its own name


def test_a_reschedule_during_room_creation_still_moves_the_room(
    make_app: AppFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording the new room's join URL is a change from Daily; it must not mark the Daily
    link in sync with the reschedule made while the room was being created (the room would
    keep the old times for good)."""
    import jobs.reconcile as reconcile

    app = make_app(db_url, api_keys={"daily": "k"})
    h = hub_of(app)
    start = datetime(2031, 3, 3, 9, tzinfo=UTC)

    def change(**fields: Any) -> Change:
        return Change(
            source="calcom", external_id="bk-3", event="x", occurred_at=datetime.now(UTC), **fields
        )

    with app.app_context():
        with h.db.session() as db:
            applied = apply_change(
                db,
                change(
                    create=True,
                    status="confirmed",
                    start_at=start,
                    end_at=start + timedelta(hours=1),
                    kind="video",
                    coach=Person("coach@example.com", "Coach"),
                    attendee=Person("ann@example.com", "Ann"),
                ),
            )
            plan(db, h, applied)
        sid = applied.session_id

        class Writer:
            def create(self, view: SessionView) -> PushResult:
                with h.db.session() as db:  # rescheduled while the room is being made
                    later = start + timedelta(minutes=30)
                    apply_change(
                        db,
                        change(
                            session_id=str(sid), start_at=later, end_at=later + timedelta(hours=1)
                        ),
                    )
                return PushResult("hub-room", data={}, meeting_url="https://x.daily.co/hub-room")

        monkeypatch.setattr(reconcile, "_writer", lambda *_: (Writer(), None))
        reconcile.reconcile(str(sid), "daily")
        with h.db.session() as db:
            session = db.get(Session, sid)
            [link] = db.exec(select(ProviderLink).where(ProviderLink.provider == "daily")).all()
            assert session is not None
            assert (session.version, session.meeting_url) == (3, "https://x.daily.co/hub-room")
            assert (link.state, link.synced_version) == ("pending", 1)  # the move is still due
    queue = h.queue
    assert isinstance(queue, InProcessQueue)
    assert f"reconcile:daily:{sid}" in queue._pending  # noqa: SLF001


def new_booking(uid: str, **extra: Any) -> Change:
    """A Cal.com booking two days ahead that creates its session."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    return Change(
        source="calcom",
        external_id=uid,
        event="created",
        occurred_at=datetime.now(UTC),
        create=True,
        status="confirmed",
        start_at=start,
        end_at=start + timedelta(hours=1),
        coach=Person("coach@example.com", "Coach"),
        attendee=Person("ann@example.com", "Ann"),
        **extra,
    )


def test_two_creations_of_one_booking_make_one_session(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook and the catch-up sweep (or two deliveries) create a session for one booking
    at once; the other commits between this one's lookup and its link. Seen once in the worker
    kill drill: two sessions, two rooms, one booking. This one must roll back and retry."""
    import app.domain.sessions as sessions_mod
    from app.domain.links import LinkedElsewhere

    h = hub_of(app)
    booking = new_booking("bk-race")
    locate = sessions_mod._locate  # noqa: SLF001

    def stale_locate(db: Any, change: Change) -> Any:
        return None, None  # what this transaction's lookup saw, before the other committed

    with app.app_context():
        with h.db.session() as other:  # the other transaction commits its session
            apply_change(other, booking)
        monkeypatch.setattr(sessions_mod, "_locate", stale_locate)
        with pytest.raises(LinkedElsewhere), h.db.session() as db:
            apply_change(db, booking)
        monkeypatch.setattr(sessions_mod, "_locate", locate)
        with h.db.session() as db:  # the retry finds the session the other one made
            again = apply_change(db, booking)
        with h.db.session() as db:
            sessions = db.exec(select(Session)).all()
            links = db.exec(select(ProviderLink)).all()
    assert len(sessions) == 1, "one booking, one session"
    assert [(link.provider, link.session_id) for link in links] == [("calcom", sessions[0].id)]
    assert again.session_id == sessions[0].id
    assert not again.created
    assert issubclass(LinkedElsewhere, TransientError)  # the job runner retries it


def test_a_change_cal_com_is_not_written_leaves_its_link_in_sync(app: Flask) -> None:
    """A new join URL (the room) is nothing the hub writes to Cal.com: no job, no GET of the
    booking; a new time is."""
    h = hub_of(app)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    with app.app_context(), h.db.session() as db:
        made = apply_change(db, new_booking("bk-url"))
        room = apply_change(
            db,
            Change(
                source="daily",
                external_id="hub-room",
                session_id=str(made.session_id),
                event="meeting_url_set",
                occurred_at=datetime.now(UTC),
                meeting_url="https://hub.daily.co/hub-room",
            ),
        )
        assert room.changed
        assert "calcom" not in room.pending
        [link] = db.exec(select(ProviderLink).where(ProviderLink.provider == "calcom")).all()
        assert (link.state, link.synced_version) == ("synced", room.version)
        moved = apply_change(
            db,
            Change(
                source="api",
                external_id=None,
                session_id=str(made.session_id),
                event="rescheduled",
                occurred_at=datetime.now(UTC),
                start_at=start + timedelta(hours=2),
                end_at=start + timedelta(hours=3),
            ),
        )
        assert moved.pending == ("calcom", "daily")  # the booking and the room move


def test_a_batch_leaves_out_sessions_whose_room_is_being_made(app: Flask) -> None:
    """Under a burst every calendar job looked at each parked session again (O(n²))."""
    from app.calendars import pending_links_of

    h = hub_of(app)
    with app.app_context(), h.db.session() as db:
        made = apply_change(db, new_booking("bk-batch", kind="video"))
        room = ProviderLink(session_id=made.session_id, provider="daily", state="pending")
        db.add(room)
        db.add(ProviderLink(session_id=made.session_id, provider="google", state="pending"))
        db.flush()
        session = db.get(Session, made.session_id)
        assert session is not None
        coach = session.coach_id
        assert pending_links_of(db, coach, "google") == [made.session_id]
        assert pending_links_of(db, coach, "google", ready=True) == []  # waits for its room
        room.last_error = "daily -> 500"
        db.add(room)
        db.flush()
        assert pending_links_of(db, coach, "google", ready=True) == [made.session_id]
