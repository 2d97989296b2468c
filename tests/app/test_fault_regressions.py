"""Bugs the fault tests (tests/faults) ran into, pinned down at unit level."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from app.config import Settings
from app.locks import hub_lock, try_locks
from app.queue import resolve
from jobs.sweeps import schedule
from tests.conftest import hub_of


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
