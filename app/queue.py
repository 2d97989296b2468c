"""Job queues: RQ on Redis in production, an in-process worker thread in embedded mode.

Jobs are named by a coalescing key (`ingest:42`, `reconcile:daily:<session>`): while a job
with that key waits in the queue, enqueueing it again does nothing; once it has started, a new
enqueue schedules another run, so a change made during a run is never missed.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import logging
import re
import threading
import time
import traceback
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db import utcnow

log = logging.getLogger(__name__)

_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
QUEUE_NAME = "sessionhub"
DEFAULT_RETRY_INTERVALS = (5, 30, 120, 600, 1800)
#: seconds a job may run before RQ stops it (a Google batch of 50 writes with its retries)
JOB_TIMEOUT = 300


@dataclass
class FailedJob:
    """A job that exhausted its retries: the dead-letter list."""

    id: str
    key: str
    func: str
    args: tuple[Any, ...]
    error: str
    traceback: str
    failed_at: datetime | None


@dataclass(order=True)
class _Item:
    due: float
    seq: int
    key: str = field(compare=False)
    func: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)
    attempt: int = field(compare=False, default=0)


def resolve(func: str) -> Callable[..., Any]:
    """Import `package.module.function`."""
    module, _, name = func.rpartition(".")
    target: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return target


class JobQueue(ABC):
    """What the app needs from a queue."""

    retry_intervals: tuple[int, ...] = DEFAULT_RETRY_INTERVALS

    @abstractmethod
    def enqueue(self, key: str, func: str, *args: Any, delay: float = 0) -> bool:
        """Queue `func(*args)` under a coalescing key; False when a queued job already has it."""

    def enqueue_many(self, jobs: list[tuple[str, str, tuple[Any, ...]]]) -> int:
        """Enqueue (key, func, args) jobs; returns how many were new."""
        return sum(1 for key, func, args in jobs if self.enqueue(key, func, *args))

    @abstractmethod
    def ping(self) -> None:
        """Raise when the queue's backend cannot be reached."""

    @abstractmethod
    def depth(self) -> int:
        """Jobs waiting."""

    @abstractmethod
    def failed(self) -> list[FailedJob]:
        """The dead-letter list, newest first."""

    @abstractmethod
    def retry_failed(self, job_id: str) -> bool:
        """Put a failed job back in the queue; False when there is no such failed job."""

    def oldest_age(self) -> float | None:
        """Seconds the oldest job due to run has waited; None when nothing waits."""
        return None

    def workers(self) -> int | None:
        """Workers alive to run jobs; None when the backend cannot tell."""
        return None

    def started(self, key: str) -> None:  # noqa: B027 - optional hook
        """A job with this key has started: a new enqueue must schedule another run."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop background work."""


class RedisQueue(JobQueue):
    """RQ on Redis; workers run `sessionhub worker`."""

    def __init__(
        self,
        url: str,
        retry_intervals: tuple[int, ...] = DEFAULT_RETRY_INTERVALS,
        name: str = QUEUE_NAME,
    ) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
        self.name = name
        self.queue = Queue(name, connection=self.redis)
        self.retry_intervals = retry_intervals

    def key(self, *parts: str) -> str:
        """A Redis key in this queue's namespace (several hubs may share one Redis)."""
        return ":".join((self.name, *parts))

    def _options(self, key: str) -> dict[str, Any]:
        from rq import Retry

        return {
            "job_id": f"{_JOB_ID_UNSAFE.sub('_', key)}-{uuid.uuid4().hex[:12]}",
            "description": key,
            "retry": Retry(max=len(self.retry_intervals), interval=list(self.retry_intervals)),
            "job_timeout": JOB_TIMEOUT,
            "result_ttl": 600,
            "failure_ttl": 30 * 24 * 3600,
            "meta": {"key": key},
        }

    def enqueue_many(self, jobs: list[tuple[str, str, tuple[Any, ...]]]) -> int:
        """Enqueue (key, func, args) jobs in two round trips; returns how many were new."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key, _, _ in jobs:
                pipe.set(self.key("pending", key), "1", nx=True, ex=24 * 3600)
            claimed = pipe.execute()
        new = [job for job, won in zip(jobs, claimed, strict=True) if won]
        if not new:
            return 0
        try:
            with self.redis.pipeline() as pipe:
                for key, func, args in new:
                    self.queue.enqueue(
                        "jobs.runner.run", key, func, *args, pipeline=pipe, **self._options(key)
                    )
                pipe.execute()
        except BaseException:
            self.redis.delete(*(self.key("pending", key) for key, _, _ in new))
            raise
        return len(new)

    def enqueue(self, key: str, func: str, *args: Any, delay: float = 0) -> bool:
        if not self.redis.set(self.key("pending", key), "1", nx=True, ex=24 * 3600):
            return False
        options = self._options(key)
        try:
            if delay > 0:
                from datetime import timedelta

                self.queue.enqueue_in(
                    timedelta(seconds=delay), "jobs.runner.run", key, func, *args, **options
                )
            else:
                # one MULTI/EXEC round trip for the job, its queue entry and the queue set
                with self.redis.pipeline() as pipe:
                    self.queue.enqueue(
                        "jobs.runner.run", key, func, *args, pipeline=pipe, **options
                    )
                    pipe.execute()
        except BaseException:
            self.redis.delete(self.key("pending", key))
            raise
        return True

    def started(self, key: str) -> None:
        self.redis.delete(self.key("pending", key))

    def ping(self) -> None:
        self.redis.ping()

    def depth(self) -> int:
        return int(self.queue.count)

    def oldest_age(self) -> float | None:
        from rq.job import Job

        for job_id in self.queue.get_job_ids(0, 0):  # the head of the list is the oldest
            job = Job.fetch(job_id, connection=self.redis)
            if job.enqueued_at is not None:
                return max(0.0, (utcnow() - job.enqueued_at).total_seconds())
        return None

    def workers(self) -> int | None:
        from rq import Worker

        return int(Worker.count(queue=self.queue))

    def failed(self) -> list[FailedJob]:
        from rq.job import Job

        registry = self.queue.failed_job_registry
        out: list[FailedJob] = []
        for job_id in reversed(registry.get_job_ids()):
            job = Job.fetch(job_id, connection=self.redis)
            key, func, *args = job.args
            result = job.latest_result()
            trace = (result.exc_string if result else None) or ""
            lines = trace.strip().splitlines()
            when = result.created_at if result else job.ended_at
            out.append(
                FailedJob(job.id, key, func, tuple(args), lines[-1] if lines else "", trace, when)
            )
        return out

    def retry_failed(self, job_id: str) -> bool:
        registry = self.queue.failed_job_registry
        if job_id not in registry.get_job_ids():
            return False
        registry.requeue(job_id)
        return True


class InProcessQueue(JobQueue):
    """A worker thread in this process (embedded mode: one process, not for production)."""

    def __init__(
        self,
        runner: Callable[[str, str, tuple[Any, ...]], None],
        retry_intervals: tuple[int, ...] = DEFAULT_RETRY_INTERVALS,
        start: bool = True,
    ) -> None:
        self.runner = runner
        self.retry_intervals = retry_intervals
        self._heap: list[_Item] = []
        self._pending: set[str] = set()
        self._failed: dict[str, FailedJob] = {}
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._stop = False
        self._busy = 0
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(
                target=self._loop, name="sessionhub-worker", daemon=True
            )
            self._thread.start()

    def enqueue(self, key: str, func: str, *args: Any, delay: float = 0) -> bool:
        with self._cv:
            if key in self._pending:
                return False
            self._pending.add(key)
            heapq.heappush(
                self._heap, _Item(time.monotonic() + delay, next(self._seq), key, func, args)
            )
            self._cv.notify()
        return True

    def ping(self) -> None:
        if self._thread is not None and not self._thread.is_alive():
            raise RuntimeError("the in-process worker thread has stopped")

    def depth(self) -> int:
        with self._cv:
            return len(self._heap)

    def oldest_age(self) -> float | None:
        now = time.monotonic()
        with self._cv:
            due = [item.due for item in self._heap if item.due <= now]
        return now - min(due) if due else None

    def workers(self) -> int | None:
        return 1 if self._thread is not None and self._thread.is_alive() else 0

    def failed(self) -> list[FailedJob]:
        with self._cv:
            return sorted(
                self._failed.values(), key=lambda f: f.failed_at or utcnow(), reverse=True
            )

    def retry_failed(self, job_id: str) -> bool:
        with self._cv:
            job = self._failed.pop(job_id, None)
        if job is None:
            return False
        self.enqueue(job.key, job.func, *job.args)
        return True

    def run_until_idle(self, timeout: float = 10.0) -> None:
        """Process due jobs in the calling thread (tests, `sessionhub sweep`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cv:
                if not self._heap or self._heap[0].due > time.monotonic():
                    if self._busy == 0:
                        return
                    item = None
                else:
                    item = heapq.heappop(self._heap)
                    self._pending.discard(item.key)
                    self._busy += 1
            if item is None:
                time.sleep(0.01)
                continue
            self._run(item)

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cv.wait(timeout=wait)
                if self._stop:
                    return
                item = heapq.heappop(self._heap)
                self._pending.discard(item.key)
                self._busy += 1
            self._run(item)

    def _run(self, item: _Item) -> None:
        try:
            self.runner(item.key, item.func, item.args)
        except Exception as err:  # noqa: BLE001 - every job failure is retried or dead-lettered
            self._after_failure(item, err)
        finally:
            with self._cv:
                self._busy -= 1

    def _after_failure(self, item: _Item, err: Exception) -> None:
        if item.attempt < len(self.retry_intervals):
            wait = float(getattr(err, "retry_after", None) or self.retry_intervals[item.attempt])
            log.warning(
                "job failed, will retry",
                extra={"job": item.key, "attempt": item.attempt, "retry_in": wait},
            )
            with self._cv:
                self._pending.add(item.key)
                heapq.heappush(
                    self._heap,
                    _Item(
                        time.monotonic() + wait,
                        next(self._seq),
                        item.key,
                        item.func,
                        item.args,
                        item.attempt + 1,
                    ),
                )
                self._cv.notify()
            return
        job_id = f"{item.key}:{uuid.uuid4().hex[:12]}"
        log.error("job failed for good", extra={"job": item.key})
        with self._cv:
            self._failed[job_id] = FailedJob(
                job_id,
                item.key,
                item.func,
                item.args,
                f"{type(err).__name__}: {err}",
                "".join(traceback.format_exception(err)),
                utcnow(),
            )
