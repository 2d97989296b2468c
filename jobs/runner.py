"""The one entry point every queued job goes through."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import has_app_context

from app.hub import hub
from app.metrics import JOB_SECONDS, JOBS, job_name
from app.queue import resolve
from jobs import job_app

log = logging.getLogger(__name__)


def run(key: str, func: str, *args: Any) -> Any:
    """Run `func(*args)` inside the hub's app context (RQ calls this)."""
    if has_app_context():
        return _call(key, func, args)
    with job_app().app_context():
        return _call(key, func, args)


def run_in_thread(key: str, func: str, args: tuple[Any, ...]) -> None:
    """The in-process queue's runner."""
    run(key, func, *args)


def _call(key: str, func: str, args: tuple[Any, ...]) -> Any:
    hub().queue.started(key)
    began = time.perf_counter()
    kind, outcome = job_name(key), "failed"
    try:
        result = resolve(func)(*args)
        outcome = "ok"
        return result
    finally:
        elapsed = time.perf_counter() - began
        JOBS.labels(kind, outcome).inc()
        JOB_SECONDS.labels(kind).observe(elapsed)
        log.debug("job ran", extra={"job": key, "ms": round(elapsed * 1000)})
