"""Per-session locks for reconciliation: one job per session touches providers at a time.

PostgreSQL: a session-level advisory lock (no transaction is held open across the provider
call). Otherwise: a Redis lock when the queue is on Redis, else a lock in this process
(embedded mode is a single process).
"""

from __future__ import annotations

import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from app.hub import Hub
from app.queue import RedisQueue

_local_guard = threading.Lock()
_local: dict[str, threading.Lock] = {}


class LockTimeout(Exception):  # noqa: N818 - reads as what happened
    """The lock stayed busy for too long."""


def _key(session_id: uuid.UUID) -> int:
    # a signed 64-bit key for pg_advisory_lock, stable across processes
    return int.from_bytes(session_id.bytes[:8], "big", signed=True) ^ zlib.crc32(b"reconcile")


@contextmanager
def session_lock(hub: Hub, session_id: uuid.UUID, timeout: float = 60.0) -> Iterator[None]:
    """Hold the reconciliation lock of one session."""
    if hub.db.dialect == "postgresql":
        with hub.db.engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = {int(timeout * 1000)}"))
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(session_id)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(session_id)})
                conn.commit()
        return
    if isinstance(hub.queue, RedisQueue):
        lock = hub.queue.redis.lock(
            hub.queue.key("lock", str(session_id)), timeout=300, blocking_timeout=timeout
        )
        if not lock.acquire():
            raise LockTimeout(f"session {session_id} stayed locked for {timeout}s")
        try:
            yield
        finally:
            lock.release()
        return
    with _local_guard:
        local = _local.setdefault(str(session_id), threading.Lock())
    if not local.acquire(timeout=timeout):
        raise LockTimeout(f"session {session_id} stayed locked for {timeout}s")
    try:
        yield
    finally:
        local.release()
