"""A stand-in hub that records webhooks, a running sandbox pointed at it, and HTTP helpers."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.sandbox import RunningSandbox, SandboxConfig, serve_in_thread
from connectors.sandbox.server import QuietRequestHandler

CALCOM_KEY = "cal_test_sandbox_key"
DAILY_KEY = "daily-test-sandbox-key"
CALCOM_SECRET = "calcom-sandbox-test-secret"
DAILY_SECRET = "aHViLWRhaWx5LXdlYmhvb2stdGVzdC1rZXktMzJieXQ="
GOOGLE_REDIRECT = "http://127.0.0.1:8000/connect/google/callback"
GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
)


@dataclass(frozen=True)
class Received:
    """One webhook the stand-in hub got: path, lower-case headers, raw body."""

    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class HubStub:
    """A tiny hub: records every POST and answers planned statuses (200 once the plan is used)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.plan: deque[int] = deque()
        #: how Graph's validation handshake (`?validationToken=`) is answered: echo | json | wrong
        self.validation = "echo"
        self.lock = threading.Lock()
        self.server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=QuietRequestHandler
        )
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        headers = {k.lower(): v for k, v in request.headers.items()}
        token = request.args.get("validationToken")
        with self.lock:
            self.received.append(Received(request.path, headers, request.get_data()))
            if token is not None and self.validation == "echo":
                response = Response(token, 200, mimetype="text/plain")
                return response(environ, start_response)
            if token is not None and self.validation == "wrong":
                response = Response(token[::-1], 200, mimetype="text/plain")
                return response(environ, start_response)
            status = self.plan.popleft() if self.plan else 200
        response = Response(json.dumps({"status": "ok"}), status, mimetype="application/json")
        return response(environ, start_response)

    def answer(self, *statuses: int) -> None:
        """The statuses the next deliveries get."""
        with self.lock:
            self.plan.extend(statuses)

    def of(self, slug: str) -> list[Received]:
        """What arrived at /webhooks/<slug>."""
        with self.lock:
            return [r for r in self.received if r.path == f"/webhooks/{slug}"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def hub_server() -> Iterator[HubStub]:
    stub = HubStub()
    yield stub
    stub.stop()


@pytest.fixture
def hub(hub_server: HubStub) -> HubStub:
    """The module's stand-in hub, with nothing received and nothing planned."""
    with hub_server.lock:
        hub_server.received.clear()
        hub_server.plan.clear()
        hub_server.validation = "echo"
    return hub_server


def config_for(hub_url: str | None, **extra: Any) -> SandboxConfig:
    values: dict[str, Any] = {
        "hub_url": hub_url,
        "calcom_webhook_secret": CALCOM_SECRET,
        "daily_webhook_secret": DAILY_SECRET,
        "api_keys": {"calcom": CALCOM_KEY, "daily": DAILY_KEY},
    }
    values.update(extra)
    return SandboxConfig(**values)


@pytest.fixture(scope="module")
def sandbox_server(hub_server: HubStub) -> Iterator[RunningSandbox]:
    with serve_in_thread(config_for(hub_server.url)) as running:
        yield running


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox, hub: HubStub) -> RunningSandbox:
    """The module's sandbox, reset: fresh state, logs, outbox, no faults."""
    sandbox_server.sandbox.reset()
    return sandbox_server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


class Api:
    """Calls to one sandbox: provider APIs with their keys, and the control plane."""

    def __init__(self, sandbox: RunningSandbox, session: requests.Session) -> None:
        self.sandbox = sandbox
        self.session = session

    def _call(self, method: str, url: str, key: str | None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        return self.session.request(method, url, headers=headers, timeout=5, **kw)

    def daily(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self._call(method, self.sandbox.daily_api_url + path, DAILY_KEY, **kw)

    def calcom(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self._call(method, self.sandbox.calcom_api_url + path, CALCOM_KEY, **kw)

    def control(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self._call(method, f"{self.sandbox.url}/_sandbox{path}", None, **kw)

    def google(self, method: str, path: str, token: str | None, **kw: Any) -> requests.Response:
        """A call below /google (the Calendar API is /calendar/v3/...) with a bearer token."""
        return self._call(method, f"{self.sandbox.google_url}{path}", token, **kw)

    def google_connect(self, email: str = "coach@example.com", **form: str) -> dict[str, Any]:
        """Consent (Allow) and exchange the code: the token response."""
        config = self.sandbox.sandbox.config
        query = google_auth_query(self, **{"prompt": "consent", **form})
        approved = self.google(
            "POST",
            "/o/oauth2/approve",
            None,
            data={**query, "login_hint": email, "decision": "allow"},
            allow_redirects=False,
        )
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        token = self.google(
            "POST",
            "/token",
            None,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": GOOGLE_REDIRECT,
                "client_id": config.google_client_id,
                "client_secret": config.google_client_secret,
            },
        )
        assert token.status_code == 200, token.text
        body: dict[str, Any] = token.json()
        return body


def google_auth_query(api: Api, **extra: str) -> dict[str, str]:
    """What Flow.authorization_url sends to Google's consent page (PKCE aside)."""
    return {
        "client_id": api.sandbox.sandbox.config.google_client_id,
        "redirect_uri": GOOGLE_REDIRECT,
        "response_type": "code",
        "scope": " ".join(GOOGLE_SCOPES),
        "state": "xyz",
        "access_type": "offline",
        **extra,
    }


@pytest.fixture
def api(sandbox: RunningSandbox, http: requests.Session) -> Api:
    return Api(sandbox, http)


OUTLOOK_REDIRECT = "http://127.0.0.1:8000/connect/outlook/callback"
OUTLOOK_SCOPES = "Calendars.ReadWrite offline_access openid profile"


class Outlook:
    """Calls to the sandbox's Outlook emulation over its HTTPS listener (trusting its CA)."""

    def __init__(self, sandbox: RunningSandbox, session: requests.Session) -> None:
        self.sandbox = sandbox
        self.session = session
        # REQUESTS_CA_BUNDLE in the environment would override session.verify
        session.trust_env = False
        session.verify = str(sandbox.ca_bundle)

    @property
    def base(self) -> str:
        return f"{self.sandbox.https_url}/outlook"

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = kw.pop("headers", {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return self.session.request(method, self.base + path, headers=headers, timeout=15, **kw)

    def graph(self, method: str, path: str, token: str | None, **kw: Any) -> requests.Response:
        """A Graph v1.0 call (`path` below /v1.0)."""
        return self.call(method, "/v1.0" + path, token, **kw)

    def control(self, method: str, path: str, **kw: Any) -> requests.Response:
        url = f"{self.sandbox.https_url}/_sandbox/outlook{path}"
        return self.session.request(method, url, timeout=15, **kw)

    def approve(self, email: str = "coach@example.com", **extra: str) -> requests.Response:
        config = self.sandbox.sandbox.config
        form = {
            "client_id": config.outlook_client_id,
            "redirect_uri": OUTLOOK_REDIRECT,
            "response_type": "code",
            "scope": OUTLOOK_SCOPES,
            "state": "st",
            "login_hint": email,
            "decision": "accept",
            **extra,
        }
        return self.call("POST", "/common/oauth2/v2.0/approve", data=form, allow_redirects=False)

    def token(self, **form: str) -> requests.Response:
        config = self.sandbox.sandbox.config
        data = {
            "client_id": config.outlook_client_id,
            "client_secret": config.outlook_client_secret,
            **form,
        }
        return self.call("POST", "/common/oauth2/v2.0/token", data=data)

    def connect(self, email: str = "coach@example.com") -> dict[str, Any]:
        """Consent and code exchange: the token response."""
        approved = self.approve(email)
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        answer = self.token(
            grant_type="authorization_code", code=code, redirect_uri=OUTLOOK_REDIRECT
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def default_calendar(self, token: str) -> str:
        calendars = self.graph("GET", "/me/calendars", token).json()["value"]
        return str(next(c["id"] for c in calendars if c["isDefaultCalendar"]))


@pytest.fixture
def outlook(sandbox: RunningSandbox) -> Iterator[Outlook]:
    with requests.Session() as session:
        yield Outlook(sandbox, session)
