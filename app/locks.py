"""Per-session locks for reconciliation: one job per session and provider at a time.

PostgreSQL: a session-level advisory lock (no transaction is held open across the provider
call). Otherwise: a Redis lock when the queue is on Redis, else a lock in this process
(embedded mode is a single process).
"""

from __future__ import annotations

import threading
import uuid
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import text

from app.hub import Hub
from app.queue import RedisQueue

_local_guard = threading.Lock()
_local: dict[str, threading.Lock] = {}


class LockTimeout(Exception):  # noqa: N818 - reads as what happened
    """The lock stayed busy for too long."""


def _key(kind: str, thing: uuid.UUID) -> int:
    # a signed 64-bit key for pg_advisory_lock, stable across processes
    return int.from_bytes(thing.bytes[:8], "big", signed=True) ^ zlib.crc32(kind.encode())


def reconcile_kind(provider: str) -> str:
    """The lock kind of one provider's reconciliation (see `session_lock`)."""
    return f"reconcile:{provider}"


def session_lock(hub: Hub, session_id: uuid.UUID, provider: str, timeout: float = 60.0) -> Any:
    """Hold the lock of one session's reconciliation with one provider.

    Per provider, not per session: the room, the two calendar events and the booking of one
    session are written in parallel (each write records under the session's row lock).
    """
    return hub_lock(hub, reconcile_kind(provider), session_id, timeout)


def connection_lock(hub: Hub, connection_id: uuid.UUID, timeout: float = 60.0) -> Any:
    """Hold the lock of one calendar connection (token refresh, sync)."""
    return hub_lock(hub, "connection", connection_id, timeout)


@contextmanager
def hub_lock(hub: Hub, kind: str, thing: uuid.UUID, timeout: float = 60.0) -> Iterator[None]:
    """Hold a named lock across every process of the hub."""

    if hub.db.dialect == "postgresql":
        with hub.db.engine.connect() as conn:
            if timeout <= 0:  # try once, never wait
                got = conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(kind, thing)}
                ).scalar()
                if not got:
                    conn.commit()
                    raise LockTimeout(f"{kind} {thing} is locked")
            else:
                conn.execute(text(f"SET lock_timeout = {int(timeout * 1000)}"))
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(kind, thing)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(kind, thing)})
                conn.commit()
        return
    if isinstance(hub.queue, RedisQueue):
        lock = hub.queue.redis.lock(
            hub.queue.key("lock", kind, str(thing)), timeout=300, blocking_timeout=timeout
        )
        if not lock.acquire(blocking=timeout > 0):
            raise LockTimeout(f"{kind} {thing} stayed locked for {timeout}s")
        try:
            yield
        finally:
            lock.release()
        return
    with _local_guard:
        local = _local.setdefault(f"{kind}:{thing}", threading.Lock())
    if not (local.acquire(timeout=timeout) if timeout > 0 else local.acquire(blocking=False)):
        raise LockTimeout(f"{kind} {thing} stayed locked for {timeout}s")
    try:
        yield
    finally:
        local.release()


@contextmanager
def try_locks(hub: Hub, kind: str, things: Iterable[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    """Try (never wait for) the locks of many things; yields the ones taken, held until exit.

    On PostgreSQL one connection holds them all: a lock per connection would take as many
    pooled connections as things (a batch of 50 against a pool of 15 blocks, then times out).
    """
    if hub.db.dialect == "postgresql":
        with hub.db.engine.connect() as conn:
            taken: list[uuid.UUID] = []
            try:
                for thing in things:
                    got = conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(kind, thing)}
                    ).scalar()
                    if got:
                        taken.append(thing)
                conn.commit()
                yield taken
            finally:
                for thing in taken:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(kind, thing)})
                conn.commit()
        return
    with ExitStack() as held:
        taken = []
        for thing in things:
            try:
                held.enter_context(hub_lock(hub, kind, thing, timeout=0))
            except LockTimeout:
                continue
            taken.append(thing)
        yield taken
