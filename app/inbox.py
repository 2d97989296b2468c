"""The webhook inbox: a lean, idempotent insert on the hot path, and delivery state changes.

On PostgreSQL the insert is ONE round trip: `INSERT … ON CONFLICT DO NOTHING RETURNING id` in
autocommit mode (the statement is its own transaction, committed — WAL flushed — before the
server answers), on the driver connection of a pool without the pre-ping `SELECT 1` of the
app's engine. A connection found dead is retried once on a fresh one: the insert is idempotent
(the dedupe key), so a retry never stores a delivery twice.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from app.db import utcnow
from app.models import WebhookDelivery

_table = WebhookDelivery.__table__  # type: ignore[attr-defined]
# The PostgreSQL statements, written out: no SQL compilation on the hot path.
_PG_INSERT = (
    "INSERT INTO webhook_deliveries"
    " (provider, dedupe_key, event_type, received_at, headers, body, state, attempts)"
    " VALUES (%(provider)s, %(dedupe_key)s, %(event_type)s, %(received_at)s, %(headers)s,"
    " %(body)s, 'received', 0)"
    " ON CONFLICT (provider, dedupe_key) DO NOTHING RETURNING id"
)
_PG_EXISTING = (
    "SELECT id FROM webhook_deliveries WHERE provider = %(provider)s"
    " AND dedupe_key = %(dedupe_key)s"
)
_lean: dict[int, tuple[Engine, int]] = {}
_lean_lock = threading.Lock()


def _lean_engine(engine: Engine) -> Engine:
    """An autocommit engine on the same database, without pre-ping (one per app engine)."""
    found = _lean.get(id(engine))
    if found is not None and found[1] == os.getpid():
        return found[0]
    with _lean_lock:
        found = _lean.get(id(engine))
        if found is not None and found[1] == os.getpid():
            return found[0]
        pool: Any = engine.pool
        lean = create_engine(
            engine.url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            pool_size=pool.size() if hasattr(pool, "size") else 5,
            max_overflow=10,
            connect_args={"connect_timeout": 5},
        )
        _lean[id(engine)] = (lean, os.getpid())

        @event.listens_for(engine, "engine_disposed")
        def _disposed(_: Engine) -> None:
            # the app's engine was disposed (shutdown, or a fork: gunicorn's post_worker_init)
            gone = _lean.pop(id(engine), None)
            if gone is not None:
                gone[0].dispose(close=gone[1] == os.getpid())

        return lean


def _text(value: str) -> str:
    """A provider-chosen string made storable: PostgreSQL text refuses NUL characters."""
    return value.replace("\x00", "\ufffd")


def store_delivery(
    engine: Engine,
    provider: str,
    dedupe_key: str,
    event_type: str,
    headers: Mapping[str, str],
    raw: bytes,
) -> tuple[int, bool]:
    """Insert a delivery unless its key was seen: (delivery id, True when new). Committed."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        return _store_postgres(
            engine,
            {
                "provider": provider,
                "dedupe_key": _text(dedupe_key)[:512],
                "event_type": _text(event_type)[:128],
                "received_at": utcnow(),
                "headers": json.dumps(dict(headers)),
                "body": raw,
            },
        )
    values = {
        "provider": provider,
        "dedupe_key": _text(dedupe_key)[:512],
        "event_type": _text(event_type)[:128],
        "received_at": utcnow(),
        "headers": dict(headers),
        "body": raw,
        "state": "received",
        "attempts": 0,
    }
    stmt = (
        sqlite.insert(_table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        .returning(_table.c.id)
    )
    with engine.begin() as conn:
        new_id = conn.execute(stmt).scalar()
        if new_id is not None:
            return int(new_id), True
        existing = select(_table.c.id).where(
            _table.c.provider == provider, _table.c.dedupe_key == values["dedupe_key"]
        )
        return int(conn.execute(existing).scalar_one()), False


def _store_postgres(engine: Engine, params: dict[str, Any]) -> tuple[int, bool]:
    # the pooled driver connection itself: a Connection's execution context costs more CPU
    # than the insert (~0.2 ms a delivery, `make bench ONLY=ingest`)
    lean = _lean_engine(engine)
    for attempt in (1, 2):
        try:
            conn = lean.raw_connection()
        except psycopg.Error as err:  # cannot connect: as SQLAlchemy raises it (a 503)
            raise DBAPIError.instance(None, None, err, psycopg.Error) from err
        try:
            cur = conn.cursor()
            cur.execute(_PG_INSERT, params)
            row, new = cur.fetchone(), True
            if row is None:  # a conflicting insert waits for the other one: its row is committed
                cur.execute(_PG_EXISTING, params)
                row, new = cur.fetchone(), False
            cur.close()
        except psycopg.Error as err:
            dead = lean.dialect.is_disconnect(err, conn.dbapi_connection, None)  # type: ignore[arg-type]
            if dead:
                conn.invalidate(err)
            if attempt == 1 and dead:
                continue
            raise DBAPIError.instance(
                _PG_INSERT, params, err, psycopg.Error, connection_invalidated=dead
            ) from err
        finally:
            conn.close()
        if row is None:  # pruned in between: as unlikely as it is, not a silent success
            raise LookupError(f"delivery {params['dedupe_key']!r} vanished while stored")
        return int(row[0]), new
    raise AssertionError("unreachable")  # pragma: no cover
