"""`python -m connectors.sandbox`: flags, and a real process that serves until stopped."""

from __future__ import annotations

import subprocess
import sys

import requests

from connectors.sandbox.__main__ import DEFAULT_PORT, parse
from connectors.sandbox.state import DEFAULT_API_KEYS


def test_flags_become_the_config() -> None:
    config, host, port = parse([])
    assert (host, port, config.hub_url) == ("127.0.0.1", DEFAULT_PORT, None)
    assert dict(config.api_keys) == dict(DEFAULT_API_KEYS)
    config, host, port = parse(
        ["--port", "0", "--hub-url", "http://127.0.0.1:8000/", "--daily-key", "dk"]
        + ["--calcom-key", "ck", "--calcom-secret", "cs", "--daily-secret", "ZHM=", "--no-webhooks"]
    )
    assert (port, config.hub_url, config.send_webhooks) == (0, "http://127.0.0.1:8000", False)
    assert dict(config.api_keys) == {"calcom": "ck", "daily": "dk"}
    assert (config.calcom_webhook_secret, config.daily_webhook_secret) == ("cs", "ZHM=")


def test_python_dash_m_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "connectors.sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "sandbox listening on http://127.0.0.1:<port> (...)"
        url = first.split()[3]
        printed = [proc.stdout.readline().strip() for _ in range(6)]
        with requests.get(f"{url}/_sandbox/state", timeout=5) as resp:
            assert resp.json()["hub_url"] is None
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert f"SESSIONHUB_DAILY_API_URL={url}/daily/v1" in printed
    assert f"SESSIONHUB_CALCOM_API_URL={url}/calcom/v2" in printed
