"""Real processes for the smoke and fault tests: a process table with logs, polling, a private
redis-server and a private PostgreSQL cluster (both on loopback, on ports of their own, so they
can be stopped and restarted without touching the shared services other runs use)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


@dataclass
class Procs:
    """Every process started, its log file, and the helpers to stop them."""

    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        self.running[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 10) -> None:
        proc = self.running.pop(name)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        proc.wait(timeout=timeout)

    def kill(self, name: str) -> tuple[int, int]:
        """SIGKILL a process, its group and every descendant, even those that moved to a group
        of their own (RQ's work horse does): a container or node lost. (exit status, killed)."""
        proc = self.running.pop(name)
        victims = [proc.pid, *descendants(proc.pid)]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return proc.wait(timeout=10), len(victims)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def dump(self) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"===== {path.name} =====\n{text[-6000:]}")
        return "\n".join(parts)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def descendants(pid: int) -> list[int]:
    """Every live descendant of a process (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 20) -> T:
    """Poll until probe() returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, redis.RedisError, AssertionError) as err:
            last = err
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what} (last error: {last!r})")


def redis_server() -> str | None:
    """The redis-server binary, or None."""
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/local/bin/redis-server") if Path(p).exists()),
        None,
    )


def start_redis(procs: Procs, port: int, env: dict[str, str], name: str = "redis") -> None:
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    procs.start(name, argv, env)
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        wait_for("the private redis-server", client.ping, timeout=10)
    finally:
        client.close()


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on its own port and socket directory (trust auth).

    As root, initdb and pg_ctl run as the `postgres` user (runuser); the data directory is a
    fresh temp dir owned by it, removed by cleanup(). Stopping it is a real outage of the only
    database the hub under test uses — the shared server on 5432 is never touched.
    """

    def __init__(self, port: int) -> None:
        binary = pg_bin()
        if binary is None:
            raise RuntimeError("PostgreSQL server binaries are not installed")
        self.bin = binary
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="sessionhub-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "--auth=trust"]
        self._run([*initdb, "-U", "postgres"])

    def _run(self, argv: list[str], timeout: float = 60) -> None:
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile)]
        self._run([*pg_ctl, "-o", options, "-w", "-t", "30", "start"])

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every client and shuts down (a restart); `immediate` crashes."""
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def cleanup(self) -> None:
        """Stop (if running) and remove the cluster's files."""
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
