"""Handing received deliveries to the queue in batches, off the webhook's hot path.

With Redis (production) the webhook request only inserts its row — committed before the 2xx —
and answers; one `InboxHandoff` among the workers (a PostgreSQL advisory lock or a Redis lock
elects it) reads the rows received since its cursor every few milliseconds and enqueues their
ingest jobs in one Redis round trip. The enqueue (~1.2 ms of CPU through RQ, a third of the
request's cost) moves from each request to a batch in a worker.

Ids are taken from a sequence before the insert commits, so a row may become visible after a
higher id was already handed off: ids skipped over are looked at again for `GRACE` seconds
(a conflicting duplicate insert burns an id for good, so they cannot be waited for forever);
what is still `received` after that is the stuck-delivery sweep's, as when Redis was down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection, Engine, bindparam, text

from app.db import make_engine
from app.hub import Hub
from app.queue import RedisQueue

log = logging.getLogger(__name__)

#: how often the elected handoff looks for new rows, and how often the others try to be it
POLL_SECONDS = 0.01
ELECTION_SECONDS = 1.0
#: how long an id skipped over is looked for again
GRACE = 5.0
#: rows handed off per round trip at most
BATCH = 500
#: ids skipped over that are remembered at most (a burst of duplicates burns many ids)
MAX_GAPS = 20_000
#: advisory-lock key of the handoff, with the schema's hash: one handoff per hub, also when
#: several hubs keep their tables in schemas of one database
_LOCK_KEY = 0x5E55_10B0


def batched(hub: Hub) -> bool:
    """Whether this hub hands deliveries off in batches (Redis queue, not switched off)."""
    return hub.settings.inbox_handoff == "batch" and isinstance(hub.queue, RedisQueue)


class InboxHandoff:
    """Enqueues an ingest job for every delivery received since the last round."""

    def __init__(self, hub: Hub, engine: Engine | None = None) -> None:
        self.hub = hub
        self.engine = engine or hub.db.engine
        self.cursor: int | None = None
        self.gaps: dict[int, float] = {}  # id skipped over -> when it was first missed

    def start_cursor(self) -> int:
        """Below the oldest row still `received`: what waits now is handed off first."""
        # one statement, one snapshot: a row committed between two reads would land at or
        # below a cursor taken from the second and never be handed off
        with self.engine.connect() as conn:
            cursor = conn.execute(
                text(
                    "SELECT coalesce("
                    "(SELECT min(id) - 1 FROM webhook_deliveries WHERE state = 'received'),"
                    " (SELECT max(id) FROM webhook_deliveries), 0)"
                )
            ).scalar()
            return int(cursor or 0)

    def run_once(self) -> int:
        """Hand off what arrived since the last round; returns how many jobs were enqueued."""
        if self.cursor is None:
            self.cursor = self.start_cursor()
        now = time.monotonic()
        self.gaps = {i: t for i, t in self.gaps.items() if now - t < GRACE}
        gaps = sorted(self.gaps)
        with self.engine.connect() as conn:
            ids = [
                int(i)
                for i in conn.execute(
                    text(
                        "SELECT id FROM webhook_deliveries WHERE state = 'received'"
                        " AND (id > :cursor OR id IN :gaps) ORDER BY id LIMIT :batch"
                    ).bindparams(bindparam("gaps", expanding=True)),
                    {"cursor": self.cursor, "gaps": gaps or [-1], "batch": BATCH},
                ).scalars()
            ]
        if not ids:
            return 0
        fresh = [i for i in ids if i > self.cursor]
        for i in ids:
            self.gaps.pop(i, None)
        if fresh:
            seen = set(fresh)
            for missing in range(self.cursor + 1, fresh[-1]):
                if missing not in seen and len(self.gaps) < MAX_GAPS:
                    self.gaps.setdefault(missing, now)
            self.cursor = fresh[-1]
        queue = self.hub.queue
        assert isinstance(queue, RedisQueue)  # noqa: S101 - batched() checked it
        return queue.enqueue_many(
            [(f"ingest:{i}", "jobs.ingest.ingest_delivery", (i,)) for i in ids]
        )


@contextmanager
def _elected(hub: Hub, engine: Engine | None = None) -> Iterator[bool]:
    """Hold the handoff's lock for as long as the block runs; yields whether it was won."""
    if hub.db.dialect == "postgresql":
        with (engine or hub.db.engine).connect() as conn:
            won = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
                    {"k": _LOCK_KEY},
                ).scalar()
            )
            conn.commit()
            try:
                yield won
            finally:
                if won:
                    _unlock(conn)
        return
    queue = hub.queue
    assert isinstance(queue, RedisQueue)  # noqa: S101 - batched() checked it
    lock = queue.redis.lock(queue.key("lock", "handoff"), timeout=30)
    won = bool(lock.acquire(blocking=False))
    try:
        yield won
    finally:
        if won:
            lock.release()


def _unlock(conn: Connection) -> None:
    try:
        conn.execute(
            text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"), {"k": _LOCK_KEY}
        )
        conn.commit()
    except Exception:  # noqa: BLE001 - a dead connection released the lock with itself
        log.debug("handoff lock released with its connection")


def start_thread(app: Flask, hub: Hub) -> threading.Event:
    """Run the handoff in a daemon thread of this worker while it holds the election."""
    stop = threading.Event()
    # its own small pool: a worker that forks per job (RQ's default Worker) must never hand a
    # connection this thread is using to a child. No pre-ping: it would double the round trips
    # of a poll every 10 ms; a connection found dead fails the round, the pool drops it, and
    # the loop stands for election again a second later
    pool = {"pool_size": 2, "max_overflow": 0} if hub.db.dialect == "postgresql" else {}
    engine = make_engine(hub.db.url, pool_pre_ping=False, **pool)

    def loop() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    with _elected(hub, engine) as won:
                        if won:
                            log.info("this worker hands received deliveries to the queue")
                            _serve(hub, stop, engine)
                except Exception:  # noqa: BLE001 - the handoff must survive anything
                    log.warning("inbox handoff failed; retrying", exc_info=True)
                stop.wait(ELECTION_SECONDS)
        engine.dispose()  # stopped: its connections close now, not when collected

    threading.Thread(target=loop, name="sessionhub-handoff", daemon=True).start()
    return stop


def _serve(hub: Hub, stop: threading.Event, engine: Engine) -> None:
    handoff = InboxHandoff(hub, engine)
    renew = time.monotonic() + 10
    while not stop.is_set():
        if handoff.run_once() < BATCH:
            stop.wait(POLL_SECONDS)
        if hub.db.dialect != "postgresql" and time.monotonic() > renew:
            return  # the Redis lock expires: stand for election again
