"""`sessionhub worker`: an RQ worker (with RQ's scheduler) plus the sweep ticker.

The worker runs each job in its own process, without forking: RQ's default Worker forks a
work horse per job, which costs ~280 ms a job here (the benchmarks measure both, `make bench
ONLY=sync`). The app is loaded once; RQ's job timeout still applies (SIGALRM in the main
thread), and a job that crashes the process is re-run by the pending sweeps.

RQ's worker quits when Redis goes away; this one waits for Redis to come back and works on,
so a Redis restart needs no supervisor. A SIGTERM still means a warm shutdown: the job in
hand is finished, then the process exits.
"""

from __future__ import annotations

import logging
import os
import time

from redis.exceptions import RedisError

from app import create_app, handoff
from app.hub import hub
from app.queue import RedisQueue
from jobs.schedule import start_thread

log = logging.getLogger(__name__)

#: how long to wait between attempts to reach Redis again
BACKOFF = (1.0, 2.0, 5.0, 10.0)


def work(burst: bool = False) -> None:
    """Run jobs until stopped (or, with burst, until the queue is empty)."""
    from rq import SimpleWorker as Worker

    app = create_app()
    with app.app_context():
        h = hub()
        if not isinstance(h.queue, RedisQueue):
            raise SystemExit(
                "sessionhub worker needs REDIS_URL (embedded mode runs jobs in the serve process)"
            )
        _lower_priority(h.settings.worker_nice)
        stop = start_thread(app, h)
        handing = handoff.start_thread(app, h) if handoff.batched(h) else None
        attempt = 0
        try:
            while True:
                worker = None
                try:
                    worker = Worker([h.queue.queue], connection=h.queue.redis)
                    worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
                except RedisError:
                    log.warning("Redis is unreachable; the worker waits for it")
                stopped = worker is not None and worker._stop_requested  # noqa: SLF001
                if burst or stopped:
                    return
                attempt = _wait_for_redis(h.queue, attempt)
        finally:
            stop.set()
            if handing is not None:
                handing.set()


def _lower_priority(nice: int) -> None:
    """Yield the CPU to the web tier when both share a machine (`SESSIONHUB_WORKER_NICE`)."""
    if nice <= 0:
        return
    try:
        os.nice(min(nice, 19))
    except OSError as err:  # a sandbox that forbids it: run at normal priority
        log.warning("could not lower the worker's priority", extra={"reason": str(err)})


def _wait_for_redis(queue: RedisQueue, attempt: int) -> int:
    """Sleep with backoff until Redis answers again; returns the next attempt number."""
    while True:
        time.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
        attempt += 1
        try:
            queue.ping()
        except RedisError:
            continue
        log.info("Redis is back; the worker resumes")
        return 0
