"""The real PostgreSQL and Redis the suite runs against: found, started, or the run fails."""

from __future__ import annotations

import os
import subprocess
import time

import psycopg
import redis

PG_DSN = os.environ.get("SESSIONHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SESSIONHUB_TEST_REDIS", "redis://127.0.0.1:6379/13")

_START = {
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}


def _pg_ok() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


CHECKS = {"postgresql": _pg_ok, "redis": _redis_ok}


def ensure(name: str) -> str | None:
    """None when the service answers (starting it if needed), else why not."""
    check = CHECKS[name]
    if check():
        return None
    subprocess.run(_START[name], shell=True, capture_output=True, timeout=60, check=False)  # noqa: S602 - fixed commands
    for _ in range(40):
        if check():
            return None
        time.sleep(0.25)
    return f"{name} is not reachable and could not be started"
