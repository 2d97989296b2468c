"""The hub as deployed (migrate, gunicorn with deploy/gunicorn.conf.py, two `sessionhub worker`
processes, the sandbox as its own process) on a PRIVATE PostgreSQL cluster and a PRIVATE
redis-server, so the faults injected here (a database stopped, a worker SIGKILLed, a sandbox in
chaos) are real and touch nothing the other test runs share. Every scenario has a hard time
limit (SIGALRM) and every process and temp dir is removed afterwards, even on failure."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet

from connectors.sandbox.state import (
    DEFAULT_API_KEYS,
    DEFAULT_CALCOM_WEBHOOK_SECRET,
    DEFAULT_DAILY_WEBHOOK_SECRET,
    DEFAULT_GOOGLE_CLIENT_ID,
    DEFAULT_GOOGLE_CLIENT_SECRET,
)
from tests.conftest import CI
from tests.e2e.test_serve import free_port
from tests.procs import ROOT, PrivatePostgres, Procs, pg_bin, redis_server, start_redis, wait_for

BIN = Path(sys.executable).parent
CALCOM_SECRET = DEFAULT_CALCOM_WEBHOOK_SECRET


def _unavailable(why: str) -> None:
    if CI:
        pytest.fail(why)
    pytest.skip(why)


@dataclass
class Private:
    """The private services of this module: PostgreSQL cluster, redis-server, sandbox."""

    pg: PrivatePostgres
    redis_port: int
    sandbox: str
    procs: Procs


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    if pg_bin() is None:
        _unavailable("PostgreSQL server binaries are not installed")
    if redis_server() is None:
        _unavailable("redis-server is not installed")
    logs = tmp_path_factory.mktemp("private-logs")
    procs = Procs(logs)
    pg = PrivatePostgres(free_port())
    redis_port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    try:
        pg.start()
        start_redis(procs, redis_port, env)
        procs.start(
            "sandbox",
            [str(BIN / "python"), "-m", "connectors.sandbox", "--port", str(sandbox_port)]
            + ["--no-https"],
            env,
        )
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        wait_for(
            "the sandbox",
            lambda: requests.get(f"{sandbox}/_sandbox/state", timeout=2).status_code == 200,
            15,
        )
        yield Private(pg, redis_port, sandbox, procs)
    finally:
        procs.stop_all()
        pg.cleanup()


class Timeout(Exception):  # noqa: N818 - reads as what happened
    """A fault scenario ran past its hard limit."""


@contextlib.contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Fail the scenario if it runs longer than this (the clean-up still runs)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise Timeout(f"the scenario ran past its hard limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def wait_progress(what: str, remaining: Callable[[], int], limit: float, stall: float) -> float:
    """Wait until remaining() is 0; fail when it stops going down for `stall` seconds or the
    whole wait passes `limit` (a loaded machine is slow, a stuck system stands still).
    Returns the seconds waited."""
    began = time.monotonic()
    best, best_at = remaining(), began
    while best > 0:
        now = time.monotonic()
        if now - best_at > stall or now - began > limit:
            pytest.fail(f"{what}: {best} left, no progress for {now - best_at:.0f} s")
        time.sleep(0.5)
        left = remaining()
        if left < best:
            best, best_at = left, time.monotonic()
    return time.monotonic() - began


@dataclass
class FaultHub:
    """One hub under test and how to drive and inspect it."""

    url: str
    sandbox: str
    dsn: str
    env: dict[str, str]
    procs: Procs
    private: Private
    http: requests.Session

    def control(self, verb: str, path: str, /, **body: Any) -> Any:
        resp = requests.request(
            verb, f"{self.sandbox}/_sandbox{path}", json=body or None, timeout=30
        )
        assert resp.status_code < 400, resp.text
        return resp.json()

    def api(self, verb: str, path: str, /, **kw: Any) -> requests.Response:
        return self.http.request(verb, f"{self.url}/api{path}", timeout=30, **kw)

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the hub's database directly (the figures come from its rows)."""
        with psycopg.connect(self.dsn, connect_timeout=5) as conn:
            return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]

    def workers(self) -> dict[str, subprocess.Popen[bytes]]:
        return {n: p for n, p in self.procs.running.items() if n.startswith("worker")}

    def start_worker(self, name: str) -> None:
        self.procs.start(name, [str(BIN / "sessionhub"), "worker"], self.env)

    def worker_running(self, description: str) -> str | None:
        """The name of the `sessionhub worker` whose current job has this description prefix."""
        from redis import Redis
        from rq import Worker
        from rq.queue import Queue

        conn = Redis(port=self.private.redis_port, socket_timeout=2, socket_connect_timeout=2)
        try:
            queue = Queue(self.env["SESSIONHUB_QUEUE_NAME"], connection=conn)
            for worker in Worker.all(queue=queue):
                job = worker.get_current_job()
                if job is not None and (job.description or "").startswith(description):
                    return next((n for n, p in self.workers().items() if p.pid == worker.pid), None)
            return None
        finally:
            conn.close()

    def rooms(self) -> list[str]:
        return [r["name"] for r in self.control("GET", "/state")["daily"]["rooms"]]


def hub_env(
    private: Private, dsn: str, url: str, web_port: int, tmp_path: Path, **extra: str
) -> dict[str, str]:
    """The production environment of a hub on the private services (SESSIONHUB_* as deployed)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SESSIONHUB_", "DATABASE_URL", "REDIS_URL", "GUNICORN_", "WEB_"))
    }
    return {
        **base,
        "DATABASE_URL": dsn,
        "REDIS_URL": f"redis://127.0.0.1:{private.redis_port}/0",
        "SESSIONHUB_SECRET_KEY": uuid.uuid4().hex,
        "SESSIONHUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SESSIONHUB_PUBLIC_URL": url,
        "SESSIONHUB_VAR_DIR": str(tmp_path / "var"),
        "SESSIONHUB_QUEUE_NAME": f"faults-{uuid.uuid4().hex[:8]}",
        "SESSIONHUB_STUCK_AFTER_SECONDS": "3",
        "SESSIONHUB_REQUEUE_SWEEP_SECONDS": "5",
        "SESSIONHUB_JOB_RETRY_INTERVALS": "1,2,3,5,8,13,21",
        # the bursts are the point here; the rate limits are tested in tests/app/test_security.py
        "SESSIONHUB_RATE_LIMIT_WEBHOOKS": "100000/minute",
        "SESSIONHUB_RATE_LIMIT_API": "100000/minute",
        "SESSIONHUB_CALCOM_WEBHOOK_SECRET": CALCOM_SECRET,
        "SESSIONHUB_LOG_FORMAT": "text",
        "PORT": str(web_port),
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        **extra,
    }


def provider_env(sandbox: str) -> dict[str, str]:
    """Daily, Cal.com and Google pointed at the sandbox (the hub writes to all three)."""
    return {
        "SESSIONHUB_DAILY_API_URL": f"{sandbox}/daily/v1",
        "SESSIONHUB_DAILY_API_KEY": DEFAULT_API_KEYS["daily"],
        "SESSIONHUB_DAILY_WEBHOOK_SECRET": DEFAULT_DAILY_WEBHOOK_SECRET,
        "SESSIONHUB_CALCOM_API_URL": f"{sandbox}/calcom/v2",
        "SESSIONHUB_CALCOM_API_KEY": DEFAULT_API_KEYS["calcom"],
        "SESSIONHUB_GOOGLE_API_URL": f"{sandbox}/google",
        "SESSIONHUB_GOOGLE_OAUTH_URL": f"{sandbox}/google",
        "SESSIONHUB_GOOGLE_CLIENT_ID": DEFAULT_GOOGLE_CLIENT_ID,
        "SESSIONHUB_GOOGLE_CLIENT_SECRET": DEFAULT_GOOGLE_CLIENT_SECRET,
    }


@contextlib.contextmanager
def running_hub(
    private: Private, tmp_path: Path, workers: int = 2, **extra: str
) -> Iterator[FaultHub]:
    """A fresh database in the private cluster, migrate, an API key, gunicorn and workers."""
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = Procs(logs)
    web_port = free_port()
    url = f"http://127.0.0.1:{web_port}"
    dsn = private.pg.create_database(f"hub_{uuid.uuid4().hex[:10]}")
    env = hub_env(private, dsn, url, web_port, tmp_path, **extra)
    http = requests.Session()
    hub = FaultHub(url, private.sandbox, dsn, env, procs, private, http)
    ok = False
    try:
        hub.control("POST", "/reset")
        hub.control("POST", "/hub-url", hub_url=url)
        run = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 60}
        migrated = subprocess.run([BIN / "sessionhub", "migrate"], check=False, **run)  # type: ignore[call-overload]
        assert migrated.returncode == 0, migrated.stderr
        made = subprocess.run(  # type: ignore[call-overload]
            [BIN / "sessionhub", "api-key", "create", "faults"], check=False, **run
        )
        assert made.returncode == 0, made.stderr
        http.headers["Authorization"] = f"Bearer {made.stdout.strip().splitlines()[-1]}"
        gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py")]
        procs.start("web", [*gunicorn, "app:create_app()"], env)
        for n in range(1, workers + 1):
            hub.start_worker(f"worker{n}")
        wait_for("/readyz", lambda: http.get(f"{url}/readyz", timeout=2).status_code == 200, 30)
        yield hub
        ok = True
    finally:
        procs.stop_all()
        http.close()
        if not ok:
            print(procs.dump())  # noqa: T201 - the processes' logs, shown by pytest on failure
            print(private.procs.dump())  # noqa: T201
            print(private.pg.log()[-4000:])  # noqa: T201
        with contextlib.suppress(requests.RequestException, AssertionError):
            hub.control("POST", "/reset")  # chaos and faults end with the scenario
