"""A newcomer's first minutes: migrate, create a key, run the hub, call it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def hub_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SESSIONHUB_", "DATABASE_URL", "REDIS_URL"))
    }
    env["SESSIONHUB_VAR_DIR"] = str(tmp_path / "var")
    return env


@pytest.fixture
def served(hub_env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    subprocess.run([BIN / "sessionhub", "migrate"], env=hub_env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [BIN / "sessionhub", "serve", "--port", str(port)],
        env=hub_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.e2e
def test_newcomer_can_serve_create_a_key_and_call_the_api(
    served: tuple[str, subprocess.Popen[str]], hub_env: dict[str, str]
) -> None:
    base, proc = served
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"]["queue"]["backend"] == "in-process"
    key = (
        subprocess.run(
            [BIN / "sessionhub", "api-key", "create", "newcomer"],
            env=hub_env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert requests.get(f"{base}/api/sessions", timeout=5).status_code == 401
    listed = requests.get(
        f"{base}/api/sessions", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )
    assert listed.status_code == 200
    assert listed.json() == {"items": [], "next": None}
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert "embedded mode — single process, not for production" in out
    assert key not in out
