"""`sessionhub rotate-keys`: every sealed value re-sealed under the newest key (both databases)."""

from __future__ import annotations

import uuid
from pathlib import Path

from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from flask import Flask
from sqlmodel import SQLModel, update

from app.cli import main
from app.crypto import Crypto
from app.models import CalendarConnection, CalendarFeed, Coach, WebhookEndpoint
from app.rotation import SEALED, ColumnReport, _rotate_value
from tests.conftest import AppFactory, hub_of

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
STRAY = Fernet.generate_key().decode()
PLAIN = {"tokens": '{"access_token": "at-1"}', "channel": "chan-token", "secret": "whsec_abc"}


def run(db_url: str, tmp_path: Path, keys: str) -> Result:
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": "",
        "SESSIONHUB_VAR_DIR": str(tmp_path),
        "SESSIONHUB_SECRET_KEY": "rotate-test",
        "SESSIONHUB_ENCRYPTION_KEYS": keys,
    }
    return CliRunner().invoke(main, ["rotate-keys", "--batch", "1"], env=env)


def seed(app: Flask) -> dict[str, uuid.UUID]:
    h = hub_of(app)
    with h.db.session() as db:
        coach = Coach(email="coach@example.com")
        db.add(coach)
        db.flush()
        conn = CalendarConnection(
            coach_id=coach.id,
            provider="google",
            account_email="coach@example.com",
            tokens_encrypted=h.crypto.encrypt(PLAIN["tokens"]),
        )
        unlinked = CalendarConnection(coach_id=coach.id, provider="outlook")
        db.add_all([conn, unlinked])
        db.flush()
        feed = CalendarFeed(
            connection_id=conn.id,
            calendar_id="primary",
            channel_token_encrypted=h.crypto.encrypt(PLAIN["channel"]),
        )
        endpoint = WebhookEndpoint(
            url="https://platform.example/h", secret_encrypted=h.crypto.encrypt(PLAIN["secret"])
        )
        db.add_all([feed, endpoint])
        return {"conn": conn.id, "feed": feed.id, "endpoint": endpoint.id}


def sealed(app: Flask, ids: dict[str, uuid.UUID]) -> dict[str, str]:
    with hub_of(app).db.session() as db:
        conn = db.get(CalendarConnection, ids["conn"])
        feed = db.get(CalendarFeed, ids["feed"])
        endpoint = db.get(WebhookEndpoint, ids["endpoint"])
        assert conn is not None
        assert feed is not None
        assert endpoint is not None
        assert conn.tokens_encrypted is not None
        assert feed.channel_token_encrypted is not None
        return {
            "tokens": conn.tokens_encrypted,
            "channel": feed.channel_token_encrypted,
            "secret": endpoint.secret_encrypted,
        }


def test_rotate_keys_reseals_everything_and_old_key_can_go(
    make_app: AppFactory, db_url: str, tmp_path: Path
) -> None:
    app = make_app(db_url, encryption_keys=(OLD,))
    ids = seed(app)
    before = sealed(app, ids)

    first = run(db_url, tmp_path, f"{NEW},{OLD}")
    assert first.exit_code == 0, first.output
    for name in (
        "calendar_connections.tokens_encrypted",
        "calendar_feeds.channel_token_encrypted",
        "webhook_endpoints.secret_encrypted",
    ):
        assert f"{name}: 1 re-encrypted, 0 already current, 0 unreadable" in first.output
    assert "older keys can be removed" in first.output
    after = sealed(app, ids)
    only_new = Crypto((NEW,))
    for name, plain in PLAIN.items():
        assert after[name] != before[name]
        assert only_new.decrypt(after[name]) == plain
        assert plain not in first.output

    again = run(db_url, tmp_path, f"{NEW},{OLD}")  # idempotent: nothing left to do
    assert again.exit_code == 0, again.output
    assert again.output.count("0 re-encrypted, 1 already current") == 3
    assert sealed(app, ids) == after
    without_old = run(db_url, tmp_path, NEW)  # the old key removed: everything still opens
    assert without_old.exit_code == 0, without_old.output

    stray = Crypto((STRAY,)).encrypt("lost-secret")
    with hub_of(app).db.engine.begin() as conn:
        conn.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == ids["endpoint"])  # type: ignore[arg-type]
            .values(secret_encrypted=stray)
        )
    failed = run(db_url, tmp_path, NEW)
    assert failed.exit_code == 1
    assert f"webhook_endpoints.secret_encrypted id {ids['endpoint']}" in failed.output
    assert "cannot be decrypted by any key" in failed.output
    assert stray not in failed.output
    assert "lost-secret" not in failed.output
    assert sealed(app, ids)["secret"] == stray  # left as it was


def test_a_value_rewritten_meanwhile_is_not_overwritten(make_app: AppFactory, db_url: str) -> None:
    app = make_app(db_url, encryption_keys=(NEW, OLD))
    h = hub_of(app)
    ids = seed(app)  # sealed with NEW by this hub
    stale = Crypto((OLD,)).encrypt('{"access_token": "stale"}')
    report = ColumnReport("calendar_connections", "tokens_encrypted")
    table = CalendarConnection.__table__  # type: ignore[attr-defined]
    _rotate_value(h, Fernet(NEW), table, "tokens_encrypted", ids["conn"], stale, report)
    assert (report.rotated, report.current, report.unreadable, report.busy) == (0, 1, [], [])
    assert h.crypto.decrypt(sealed(app, ids)["tokens"]) == PLAIN["tokens"]


def test_every_sealed_column_is_rotated() -> None:
    listed = {(model.__tablename__, column) for model, column in SEALED}
    found = {
        (table.name, column.name)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_encrypted")
    }
    assert found == listed
