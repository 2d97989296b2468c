"""`sessionhub worker`: an RQ worker (with RQ's scheduler) plus the sweep ticker."""

from __future__ import annotations

import logging

from app import create_app
from app.hub import hub
from app.queue import RedisQueue
from jobs.schedule import start_thread

log = logging.getLogger(__name__)


def work(burst: bool = False) -> None:
    """Run jobs until stopped (or, with burst, until the queue is empty)."""
    from rq import Worker

    app = create_app()
    with app.app_context():
        h = hub()
        if not isinstance(h.queue, RedisQueue):
            raise SystemExit(
                "sessionhub worker needs REDIS_URL (embedded mode runs jobs in the serve process)"
            )
        stop = start_thread(app, h)
        try:
            worker = Worker([h.queue.queue], connection=h.queue.redis)
            worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
        finally:
            stop.set()
