"""Shared fixtures: real databases (SQLite and PostgreSQL), real Redis, the app, API keys."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import redis as redis_lib
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import SQLModel

from app import create_app
from app.config import Settings
from app.hub import Hub
from app.migrate import upgrade
from app.queue import InProcessQueue, RedisQueue
from tests import services

CI = os.environ.get("CI", "").lower() == "true"
pytest_plugins = ["tests.logscan"]  # no secret the tests configure may reach the logs
_status: dict[str, str | None] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    for name in services.CHECKS:
        _status[name] = services.ensure(name)
    missing = {k: v for k, v in _status.items() if v}
    if missing and CI:
        pytest.exit(f"CI=true and services are missing: {missing}", returncode=3)


def need(name: str) -> None:
    """Skip (or, under CI, fail) when a real service is missing."""
    why = _status.get(name)
    if why:
        if CI:
            pytest.fail(why)
        pytest.skip(why)


# --- databases --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "hub.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    need("postgresql")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    base = services.PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}?options={quote(f'-csearch_path={schema}')}"
    upgrade(url)
    yield url
    with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def _truncate(hub: Hub) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with hub.db.engine.begin() as conn:
        if hub.db.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    need("redis")
    return services.REDIS_URL


# --- the app ----------------------------------------------------------------------------

SECRETS = {"testhook": ("hook-secret-old", "hook-secret-new")}


def settings_for(
    db_url: str, tmp_path: Path, redis_url: str | None = None, **extra: Any
) -> Settings:
    """Test settings: fixed keys, no delays between job retries."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "redis_url": redis_url,
        "secret_key": "test-secret-key",
        "encryption_keys": (Fernet.generate_key().decode(),),
        "webhook_secrets": dict(SECRETS),
        "var_dir": tmp_path,
        "job_retry_intervals": (0, 0),
        "queue_name": QUEUE_NAME,
        "testing": True,
    }
    values.update(extra)
    return Settings(**values)


AppFactory = Callable[..., Flask]

#: this run's own queue namespace: concurrent test runs on one Redis never meet
QUEUE_NAME = f"test-{uuid.uuid4().hex[:8]}"


def _clear_namespace(queue: RedisQueue) -> None:
    """Empty this run's queue, its registries and its keys (never the whole database)."""
    queue.queue.empty()
    for registry in (
        queue.queue.failed_job_registry,
        queue.queue.scheduled_job_registry,
        queue.queue.started_job_registry,
        queue.queue.deferred_job_registry,
    ):
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    keys = list(queue.redis.scan_iter(match=queue.key("*"), count=500))
    if keys:
        queue.redis.delete(*keys)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build apps on a database (and optionally Redis); tables are emptied afterwards."""
    made: list[Flask] = []
    flushed: set[str] = set()

    def factory(db_url: str, redis_url: str | None = None, **extra: Any) -> Flask:
        app = create_app(settings_for(db_url, tmp_path, redis_url, **extra), start_worker=False)
        hub: Hub = app.extensions["sessionhub"]
        if not made:
            _truncate(hub)
        if redis_url == services.REDIS_URL and redis_url not in flushed:
            assert isinstance(hub.queue, RedisQueue)
            _clear_namespace(hub.queue)
            flushed.add(redis_url)
        made.append(app)
        return app

    yield factory
    for app in made:
        hub = app.extensions["sessionhub"]
        hub.queue.close()
        hub.db.dispose()


@pytest.fixture
def app(make_app: AppFactory, db_url: str) -> Flask:
    """The hub on each database, with the in-process queue run by hand (drain)."""
    return make_app(db_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def hub_of(app: Flask) -> Hub:
    found: Hub = app.extensions["sessionhub"]
    return found


def drain(app: Flask) -> None:
    """Run every queued job to the end (in-process, or a burst RQ SimpleWorker on Redis)."""
    queue = hub_of(app).queue
    with app.app_context():
        if isinstance(queue, InProcessQueue):
            queue.run_until_idle()
            return
        assert isinstance(queue, RedisQueue)
        from rq import SimpleWorker

        while True:  # what the workers' handoff thread does, then what the workers do
            handed = hand_off(app)
            worked = SimpleWorker([queue.queue], connection=queue.redis).work(
                burst=True, with_scheduler=False
            )
            if not (handed or worked):
                return


def hand_off(app: Flask) -> int:
    """One round of the workers' inbox handoff (app/handoff.py): jobs enqueued for deliveries
    the requests only stored; 0 when the hub enqueues from the request."""
    from app.handoff import InboxHandoff, batched

    h = hub_of(app)
    if not batched(h):
        return 0
    with app.app_context():
        return InboxHandoff(h).run_once()


@pytest.fixture
def api_key(app: Flask) -> str:
    from app.apikeys import create_key

    with hub_of(app).db.session() as db:
        _, token = create_key(db, "test-platform")
    return token


@pytest.fixture
def auth(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def redis_client(redis_url: str) -> redis_lib.Redis:
    return redis_lib.Redis.from_url(redis_url)
