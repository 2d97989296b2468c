"""The whole system on loopback: the hub over real HTTP, the provider sandbox, Redis and a DB."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.apikeys import create_key
from connectors.sandbox import RunningSandbox, SandboxConfig, serve_in_thread
from connectors.sandbox.server import QuietRequestHandler
from tests.conftest import AppFactory, drain, hand_off, hub_of
from tests.e2e.test_serve import free_port

CALENDARS = ("google", "outlook")


@dataclass
class Stack:
    """A running hub and sandbox, and helpers to drive them."""

    app: Flask
    url: str
    sandbox: RunningSandbox
    api: requests.Session

    def settle(self, rounds: int = 10) -> None:
        """Run queued jobs until nothing is left (each job may cause webhooks and new jobs)."""
        for _ in range(rounds):
            self.sandbox.webhooks.flush()
            drain(self.app)
            self.sandbox.webhooks.flush()
            if hub_of(self.app).queue.depth() == 0 and not hand_off(self.app):
                return
        pytest.fail("the hub did not settle")

    def control(self, method: str, path: str, **body: Any) -> Any:
        """Call the sandbox's control plane."""
        resp = requests.request(
            method, f"{self.sandbox.url}/_sandbox{path}", json=body or None, timeout=10
        )
        assert resp.status_code < 400, resp.text
        return resp.json()

    def get(self, path: str, **params: Any) -> Any:
        resp = self.api.get(f"{self.url}/api{path}", params=params, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def session_by(self, provider: str, external_id: str) -> dict[str, Any]:
        [item] = self.get("/sessions", provider=provider, external_id=external_id)["items"]
        found: dict[str, Any] = item
        return found

    def writes(self, provider: str) -> list[tuple[str, str]]:
        """(method, path) of every write the hub made to a provider."""
        return [
            (r.method, r.path)
            for r in self.sandbox.state.requests_matching(provider)
            if r.method != "GET"
        ]


def _serve(app: Flask, port: int) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def stack(make_app: AppFactory, db_url: str, redis_url: str) -> Iterator[Stack]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_in_thread(SandboxConfig(hub_url=url)) as sandbox:
        env = sandbox.hub_env()
        slugs = ("calcom", "daily")
        app = make_app(
            db_url,
            redis_url,
            public_url=url,
            api_urls={
                s: env[f"SESSIONHUB_{s.upper()}_API_URL"]
                for s in (*slugs, *CALENDARS)
                if f"SESSIONHUB_{s.upper()}_API_URL" in env
            },
            api_keys={s: env[f"SESSIONHUB_{s.upper()}_API_KEY"] for s in slugs},
            webhook_secrets={s: (env[f"SESSIONHUB_{s.upper()}_WEBHOOK_SECRET"],) for s in slugs},
            oauth={
                s: {
                    key.lower(): env[f"SESSIONHUB_{s.upper()}_{key}"]
                    for key in (
                        "CLIENT_ID",
                        "CLIENT_SECRET",
                        "OAUTH_URL",
                        "TENANT",
                        "AUTHORITY_URL",
                        "CA_BUNDLE",
                    )
                    if f"SESSIONHUB_{s.upper()}_{key}" in env
                }
                for s in CALENDARS
                if f"SESSIONHUB_{s.upper()}_CLIENT_ID" in env
            },
        )
        with hub_of(app).db.session() as db:
            _, token = create_key(db, "stack")
        server, thread = _serve(app, port)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        try:
            yield Stack(app, url, sandbox, api)
        finally:
            api.close()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            time.sleep(0)
