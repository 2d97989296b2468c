"""What every benchmark module shares: figures and their JSON, statistics, and the production
processes on loopback (the smoke test's helpers: private redis-server, a PostgreSQL schema, the
provider sandbox, `sessionhub migrate`, gunicorn with deploy/gunicorn.conf.py, workers).

A module prints ONE JSON object on stdout — `{"figures": [...], "notes": [...]}` — and logs
on stderr; `tests/bench/run.py` collects them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests
from cryptography.fernet import Fernet

from tests import services
from tests.e2e.test_serve import free_port
from tests.smoke.test_smoke import (
    BIN,
    CALCOM_SECRET,
    DAILY_SECRET,
    ROOT,
    Procs,
    start_redis,
    wait_for,
)

__all__ = ["BIN", "CALCOM_SECRET", "ROOT", "Figures", "Stack", "log", "percentile", "production"]


def log(*parts: Any) -> None:
    """Progress on stderr (stdout carries the JSON)."""
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)  # noqa: T201


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank on sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Figures:
    """The figures and notes of one benchmark module."""

    figures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        stat: str,
        target: str = "",
        *,
        baseline: float | None = None,
        met: bool | None = None,
        ratio: float | None = None,
    ) -> None:
        if ratio is None and baseline not in (None, 0) and value == value:  # noqa: PLR0124
            ratio = value / baseline  # type: ignore[operator]
        self.figures.append(
            {
                "name": name,
                "value": round(float(value), 3),
                "unit": unit,
                "stat": stat,
                "baseline": None if baseline is None else round(float(baseline), 3),
                "ratio": None if ratio is None else round(float(ratio), 3),
                "target": target,
                "met": met,
            }
        )
        log(f"figure {name}: {value:.3f} {unit} ({stat}) baseline={baseline} met={met}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        log("note:", text)

    def emit(self) -> None:
        sys.stdout.write(json.dumps({"figures": self.figures, "notes": self.notes}) + "\n")
        sys.stdout.flush()


def _package(path: str, inherited: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/lib/python3" in path:
        return "stdlib"
    if re.search(r"/(app|connectors|jobs)/", path):
        return "hub code"
    return inherited  # built-ins count for the package that called them


def hot_spots(profiler: Any, top: int = 6) -> list[str]:
    """Where a stopped pyinstrument profiler saw the (wall) time: by package (built-ins count
    for their caller's package), and the hub's own functions by total time."""
    by_package: dict[str, float] = {}
    own: dict[str, float] = {}
    whole = 0.0
    root = profiler.last_session.root_frame() if profiler.last_session else None
    stack: list[tuple[Any, str]] = [(root, "other")] if root is not None else []
    while stack:
        frame, inherited = stack.pop()
        path = (frame.file_path or "").replace("\\", "/")
        package = _package(path, inherited)
        if not frame.children:
            by_package[package] = by_package.get(package, 0.0) + frame.time
            whole += frame.time
        if re.search(r"/(app|connectors)/", path) and not frame.function.startswith("["):
            name = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
            own[name] = own.get(name, 0.0) + frame.time
        stack.extend((child, package) for child in frame.children)
    if not whole:
        return []
    ranked = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    mine = sorted(own.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [
        "wall time by package: "
        + ", ".join(f"{name} {100 * t / whole:.0f}%" for name, t in ranked),
        "hub functions by total time: "
        + ", ".join(f"{name} {100 * t / whole:.0f}%" for name, t in mine),
    ]


def rss_peak_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    """Direct child processes of pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


@dataclass
class Stack:
    """The running production processes and how to reach them."""

    url: str
    sandbox: str
    env: dict[str, str]
    procs: Procs
    http: requests.Session
    schema: str
    tmp: Path

    def control(self, verb: str, path: str, /, **body: Any) -> Any:
        resp = self.http.request(
            verb, f"{self.sandbox}/_sandbox{path}", json=body or None, timeout=60
        )
        assert resp.status_code < 400, resp.text
        return resp.json()

    def api(self, verb: str, path: str, **body: Any) -> requests.Response:
        return self.http.request(verb, f"{self.url}/api{path}", json=body or None, timeout=30)

    def pg(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(services.PG_DSN, autocommit=True)
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def start_workers(self, n: int = 2, argv: list[str] | None = None) -> None:
        for i in range(1, n + 1):
            self.procs.start(f"worker{i}", argv or [str(BIN / "sessionhub"), "worker"], self.env)

    def stop_workers(self) -> None:
        for name in [n for n in self.procs.running if n.startswith("worker")]:
            self.procs.stop(name)

    def web_pids(self) -> list[int]:
        """gunicorn's worker processes (children of the master)."""
        return children(self.procs.running["web"].pid)

    def worker_pids(self) -> list[int]:
        return [p.pid for n, p in self.procs.running.items() if n.startswith("worker")]


def hub_env(schema: str, tmp: Path, web_port: int, sandbox: str, redis_port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{web_port}"
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SESSIONHUB_", "DATABASE_URL", "REDIS_URL", "GUNICORN_", "WEB_"))
    }
    return {
        **base,
        "DATABASE_URL": f"{services.PG_DSN}?options={quote(f'-csearch_path={schema}')}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SESSIONHUB_SECRET_KEY": uuid.uuid4().hex,
        "SESSIONHUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SESSIONHUB_PUBLIC_URL": url,
        "SESSIONHUB_VAR_DIR": str(tmp / "var"),
        "SESSIONHUB_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
        # capacity, not the limits, is measured: the limiter still counts every request (its Redis
        # round trip is in the figures) but never refuses one
        "SESSIONHUB_RATE_LIMIT_WEBHOOKS": "1000000/minute",
        "SESSIONHUB_RATE_LIMIT_API": "1000000/minute",
        "SESSIONHUB_CALCOM_WEBHOOK_SECRET": CALCOM_SECRET,
        "SESSIONHUB_CALCOM_API_KEY": "smoke-calcom-key",
        "SESSIONHUB_CALCOM_API_URL": f"{sandbox}/calcom/v2",
        "SESSIONHUB_DAILY_WEBHOOK_SECRET": DAILY_SECRET,
        "SESSIONHUB_DAILY_API_KEY": "smoke-daily-key",
        "SESSIONHUB_DAILY_API_URL": f"{sandbox}/daily/v1",
        "PORT": str(web_port),
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
    }


@contextmanager
def production(
    *, workers: int = 2, extra_env: dict[str, str] | None = None, sandbox_env: bool = False
) -> Iterator[Stack]:
    """The production layout on loopback, torn down (schema dropped) on exit.

    With sandbox_env the hub also takes the sandbox's Google/Outlook settings (OAuth, API URLs).
    """
    # a SIGTERM (the runner's timeout, a Ctrl-C'd make) still stops every process started here
    signal.signal(signal.SIGTERM, _terminate)
    with tempfile.TemporaryDirectory(prefix="sessionhub-bench-") as tmpdir:
        tmp = Path(tmpdir)
        logs = tmp / "logs"
        logs.mkdir()
        procs = Procs(logs)
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        redis_port, web_port, sandbox_port = free_port(), free_port(), free_port()
        url, sandbox = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sandbox_port}"
        env = hub_env(schema, tmp, web_port, sandbox, redis_port)
        env.update(extra_env or {})
        http = requests.Session()
        ok = False
        try:
            start_redis(procs, redis_port, env)
            sandbox_proc = procs.start(
                "sandbox",
                [str(BIN / "sessionhub"), "sandbox", "--port", str(sandbox_port), "--hub-url", url]
                + ["--calcom-secret", CALCOM_SECRET, "--daily-secret", DAILY_SECRET]
                + ["--calcom-key", "smoke-calcom-key", "--daily-key", "smoke-daily-key"],
                env,
            )
            wait_for(
                "the sandbox",
                lambda: http.get(f"{sandbox}/_sandbox/state", timeout=2).status_code == 200,
                30,
            )
            if sandbox_env:
                env.update(_sandbox_settings(procs, sandbox_proc.pid))
            run = {"env": env, "cwd": ROOT, "capture_output": True, "text": True, "timeout": 120}
            migrated = subprocess.run([BIN / "sessionhub", "migrate"], check=False, **run)  # type: ignore[call-overload]
            assert migrated.returncode == 0, migrated.stderr
            made = subprocess.run(  # type: ignore[call-overload]
                [BIN / "sessionhub", "api-key", "create", "bench"], check=False, **run
            )
            assert made.returncode == 0, made.stderr
            http.headers["Authorization"] = f"Bearer {made.stdout.strip().splitlines()[-1]}"
            gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py")]
            procs.start("web", [*gunicorn, "app:create_app()"], env)
            wait_for("/readyz", lambda: http.get(f"{url}/readyz", timeout=2).status_code == 200, 60)
            stack = Stack(url, sandbox, env, procs, http, schema, tmp)
            if workers:
                stack.start_workers(workers)
            yield stack
            ok = True
        finally:
            procs.stop_all()
            http.close()
            with psycopg.connect(services.PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            if not ok:
                log(procs.dump())


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _sandbox_settings(procs: Procs, pid: int) -> dict[str, str]:
    """The `NAME=value` lines the sandbox prints at start (its hub settings)."""
    settings: dict[str, str] = {}

    def parsed() -> bool:
        text = procs.log("sandbox")
        if "HTTPS listener" not in text and "SESSIONHUB_GOOGLE" not in text:
            return False
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            if sep and name.startswith("SESSIONHUB_") and name.isupper():
                settings[name] = value.strip()
        return True

    wait_for(f"the sandbox settings (pid {pid})", parsed, 30)
    time.sleep(0.2)
    parsed()
    return settings
