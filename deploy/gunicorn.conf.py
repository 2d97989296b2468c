"""Gunicorn settings for the SessionHub web process: `gunicorn -c deploy/gunicorn.conf.py
"app:create_app()"`.

Everything is read from the environment so one image serves every deployment:

| variable | meaning | default |
| --- | --- | --- |
| `PORT` | port to listen on (all interfaces unless `GUNICORN_BIND` is set) | `8000` |
| `GUNICORN_BIND` | full bind address, overrides `PORT` (e.g. `127.0.0.1:8000`) | `0.0.0.0:$PORT` |
| `WEB_CONCURRENCY` | worker processes | `2 * cores + 1`, at most 12 |
| `GUNICORN_THREADS` | threads per worker (> 1 selects the `gthread` worker) | `1` |
| `GUNICORN_WORKER_CLASS` | explicit worker class | `gthread` or `sync` as above |
| `GUNICORN_TIMEOUT` | a worker silent this long is killed | `15` |
| `GUNICORN_GRACEFUL_TIMEOUT` | time to finish requests after TERM / HUP | `20` |
| `GUNICORN_KEEPALIVE` | idle keep-alive seconds (behind a load balancer) | `5` |
| `GUNICORN_MAX_REQUESTS` | recycle a worker after this many requests (0 = never) | `2000` |
| `GUNICORN_PRELOAD` | load the app once in the master before forking | `true` |
| `PROMETHEUS_MULTIPROC_DIR` | prometheus multiprocess dir | `$TMPDIR/sessionhub-prometheus` |

Webhook senders give up after 3-10 s, and the hub answers them after one INSERT and one enqueue,
so a request that takes longer than `GUNICORN_TIMEOUT` is stuck, not slow: the worker is killed
and replaced. `HUP` reloads this file and replaces the workers gracefully; with `preload_app` the
code is the master's, so a new release needs a new master (a rolling restart of the process or
pod, or `USR2` then `WINCH`/`TERM` on the old master).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


# --- sockets and processes ----------------------------------------------------------------

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"  # noqa: S104 - in a container
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 12))
threads = _int("GUNICORN_THREADS", 1)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or ("gthread" if threads > 1 else "sync")
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
preload_app = _flag("GUNICORN_PRELOAD", True)
proc_name = "sessionhub-web"
# Behind a proxy (compose, Kubernetes Service, nginx): trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Worker heartbeat files in memory, not on a possibly slow container disk.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - tmpfs, per container

# --- timeouts: the webhook path is short ----------------------------------------------------

timeout = _int("GUNICORN_TIMEOUT", 15)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
limit_request_line = 8190

# --- logs: the access log carries a request id ----------------------------------------------

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}i)s ua="%(a)s"'

# --- prometheus-client in multiprocess mode -------------------------------------------------

_PROM_DIR = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / "sessionhub-prometheus")
    )
)
# Cleaned once per master, before the app is preloaded; a HUP re-reads this file in the same
# master and must keep the live workers' files.
if os.environ.get("_SESSIONHUB_PROM_CLEANED") != str(os.getpid()):
    shutil.rmtree(_PROM_DIR, ignore_errors=True)
    os.environ["_SESSIONHUB_PROM_CLEANED"] = str(os.getpid())
_PROM_DIR.mkdir(parents=True, exist_ok=True)


# --- hooks ------------------------------------------------------------------------------------


def on_starting(server: Any) -> None:
    """Master start: say how it is configured (no secrets here)."""
    server.log.info(
        "sessionhub web: %d %s worker(s) x %d thread(s), timeout %ss, preload %s, metrics in %s",
        workers,
        worker_class,
        threads,
        timeout,
        preload_app,
        _PROM_DIR,
    )


def post_worker_init(worker: Any) -> None:
    """In each worker: drop database connections inherited from the preloading master."""
    hub = getattr(worker.wsgi, "extensions", {}).get("sessionhub")
    if hub is not None:
        hub.db.engine.dispose(close=False)


def pre_request(worker: Any, req: Any) -> None:
    """Give every request an id: the caller's X-Request-ID (if sane) or a new one.

    It reaches the app as `HTTP_X_REQUEST_ID` and the access log as `request_id=`.
    """
    for index, (name, value) in enumerate(req.headers):
        if name.upper() == "X-REQUEST-ID":
            if 0 < len(value) <= 128 and value.isprintable():
                return
            del req.headers[index]
            break
    req.headers.append(("X-REQUEST-ID", uuid.uuid4().hex))


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: merge its live gauges out of the multiprocess directory."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
