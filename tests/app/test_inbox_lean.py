"""The inbox's one-round-trip insert on PostgreSQL: committed on return, and a pooled
connection the server killed is replaced without losing or doubling the delivery."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import inbox
from tests.conftest import AppFactory, hub_of


@pytest.mark.postgres
def test_insert_is_committed_and_survives_a_killed_connection(
    make_app: AppFactory, postgresql_url: str
) -> None:
    # the lean path is PostgreSQL's (SQLite takes the Core insert, tested in test_inbox.py)
    engine = hub_of(make_app(postgresql_url)).db.engine
    first, new = inbox.store_delivery(engine, "testhook", "k-1", "created", {"a": "b"}, b"{}")
    assert new
    with engine.connect() as other:  # another connection sees it: committed, not in flight
        row = other.execute(
            text("SELECT headers, state, attempts FROM webhook_deliveries WHERE id = :i"),
            {"i": first},
        ).one()
    assert (row.headers, row.state, row.attempts) == ({"a": "b"}, "received", 0)

    lean = inbox._lean_engine(engine)  # noqa: SLF001 - the pool under test
    with lean.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    second, new = inbox.store_delivery(engine, "testhook", "k-2", "created", {}, b"{}")
    assert new
    assert second != first
    assert inbox.store_delivery(engine, "testhook", "k-2", "created", {}, b"{}") == (second, False)
    with engine.connect() as other:
        count = other.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar()
    assert count == 2
