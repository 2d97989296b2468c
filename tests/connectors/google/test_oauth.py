"""Google OAuth: the consent URL, code exchange, refresh and revoke against a loopback server."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.calendar import TokenSet
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.google import GoogleCalendarApi, GoogleConnector, GoogleOAuth

EVENTS = "https://www.googleapis.com/auth/calendar.events"
READONLY = "https://www.googleapis.com/auth/calendar.readonly"
SETTINGS = {"client_id": "hub-client.apps.googleusercontent.com", "client_secret": "hub-secret"}
REDIRECT = "http://127.0.0.1:5000/connect/google/callback"
INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"


class Endpoint:
    """A scripted OAuth server on 127.0.0.1: answers POSTs in order and records them."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, Any]] = []
        self.seen: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.env_during: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                size = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(size).decode()).items()}
                owner.seen.append(
                    (self.path, form, {k.lower(): v for k, v in self.headers.items()})
                )
                owner.env_during.append(os.environ.get(INSECURE))
                status, body = owner.replies.pop(0) if owner.replies else (500, "no reply")
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/google"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def oauth(self) -> GoogleOAuth:
        return GoogleOAuth({**SETTINGS, "oauth_url": self.url, "api_url": self.url})


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.delenv(INSECURE, raising=False)
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def granted(*scopes: str, refresh: str | None = "1//refresh-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access_token": "ya29.access-1",
        "expires_in": 3599,
        "scope": " ".join(scopes or (EVENTS, READONLY)),
        "token_type": "Bearer",
        **extra,
    }
    if refresh:
        body["refresh_token"] = refresh
    return body


TOKENS = TokenSet("ya29.old", "1//refresh-1", datetime(2026, 1, 1, tzinfo=UTC), (EVENTS, READONLY))


# --- authorization URL --------------------------------------------------------------------


def test_authorization_url_asks_for_offline_access_with_our_state() -> None:
    url = GoogleOAuth(SETTINGS).authorization_url(REDIRECT, "signed.state-value")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://accounts.google.com/o/oauth2/auth"
    )
    assert query == {
        "response_type": "code",
        "client_id": SETTINGS["client_id"],
        "redirect_uri": REDIRECT,
        "scope": f"{EVENTS} {READONLY}",
        "state": "signed.state-value",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    }


def test_authorization_url_needs_a_state() -> None:
    with pytest.raises(ValueError, match="state"):
        GoogleOAuth(SETTINGS).authorization_url(REDIRECT, "")


def test_loopback_sandbox_is_allowed_over_http_for_that_call_only(endpoint: Endpoint) -> None:
    url = endpoint.oauth().authorization_url(REDIRECT, "s1")
    assert url.startswith(f"{endpoint.url}/o/oauth2/auth?")
    assert INSECURE not in os.environ


def test_an_existing_insecure_setting_is_left_as_it_was(
    endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INSECURE, "yes")
    endpoint.oauth().authorization_url(REDIRECT, "s1")
    assert os.environ[INSECURE] == "yes"


@pytest.mark.parametrize("key", ["oauth_url", "api_url"])
def test_plain_http_elsewhere_is_refused(key: str) -> None:
    with pytest.raises(PermanentError, match=key):
        GoogleOAuth({**SETTINGS, key: "http://sandbox.example.com"})


def test_client_credentials_are_required() -> None:
    with pytest.raises(PermanentError, match="client_id"):
        GoogleConnector().oauth({"client_id": "x"})


# --- code exchange ------------------------------------------------------------------------


def test_exchange_trades_the_code_for_tokens(endpoint: Endpoint) -> None:
    endpoint.replies.append((200, granted()))
    before = datetime.now(UTC)
    tokens = endpoint.oauth().exchange(REDIRECT, "4/0-code")
    assert tokens.access_token == "ya29.access-1"
    assert tokens.refresh_token == "1//refresh-1"
    assert tokens.scopes == (EVENTS, READONLY)
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=3590) <= tokens.expires_at <= before + timedelta(hours=1)
    ((path, form, headers),) = endpoint.seen
    assert path == "/google/token"
    assert form == {
        "grant_type": "authorization_code",
        "code": "4/0-code",
        "redirect_uri": REDIRECT,
    }
    basic = base64.b64encode(f"{SETTINGS['client_id']}:{SETTINGS['client_secret']}".encode())
    assert headers["authorization"] == f"Basic {basic.decode()}"
    assert endpoint.env_during == ["1"]  # set (same process) only while the call ran
    assert INSECURE not in os.environ


def test_exchange_keeps_scopes_granted_earlier(endpoint: Endpoint) -> None:
    """include_granted_scopes: Google answers with more scopes than asked; oauthlib objects."""
    endpoint.replies.append((200, granted("openid", EVENTS, READONLY)))
    tokens = endpoint.oauth().exchange(REDIRECT, "4/0-code")
    assert set(tokens.scopes) == {"openid", EVENTS, READONLY}
    assert tokens.access_token == "ya29.access-1"


def test_exchange_with_a_scope_unticked_is_refused(endpoint: Endpoint) -> None:
    endpoint.replies.append((200, granted(EVENTS)))
    with pytest.raises(AuthError, match="calendar.readonly"):
        endpoint.oauth().exchange(REDIRECT, "4/0-code")


def test_exchange_of_a_used_code_is_auth_error(endpoint: Endpoint) -> None:
    endpoint.replies.append((400, {"error": "invalid_grant", "error_description": "Bad Request"}))
    with pytest.raises(AuthError, match="invalid_grant"):
        endpoint.oauth().exchange(REDIRECT, "4/0-used")


def test_exchange_during_an_outage_is_transient(endpoint: Endpoint) -> None:
    endpoint.replies.append((503, "<html>unavailable</html>"))
    with pytest.raises(TransientError):
        endpoint.oauth().exchange(REDIRECT, "4/0-code")


def test_exchange_unreachable_is_transient() -> None:
    oauth = GoogleOAuth({**SETTINGS, "oauth_url": closed_port_url()})
    with pytest.raises(TransientError):
        oauth.exchange(REDIRECT, "4/0-code")
    assert INSECURE not in os.environ


# --- refresh ------------------------------------------------------------------------------


def test_refresh_keeps_the_refresh_token_google_did_not_resend(endpoint: Endpoint) -> None:
    endpoint.replies.append((200, granted(refresh=None, access_token="ya29.access-2")))
    fresh = endpoint.oauth().refresh(TOKENS)
    assert fresh.access_token == "ya29.access-2"
    assert fresh.refresh_token == "1//refresh-1"
    assert fresh.scopes == TOKENS.scopes
    assert fresh.expires_at is not None
    assert fresh.expires_at.tzinfo is not None
    assert fresh.expires_at > datetime.now(UTC) + timedelta(minutes=55)
    ((path, form, _),) = endpoint.seen
    assert path == "/google/token"
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "1//refresh-1"
    assert form["client_id"] == SETTINGS["client_id"]


def test_refresh_takes_a_rotated_refresh_token(endpoint: Endpoint) -> None:
    endpoint.replies.append((200, granted(refresh="1//refresh-2")))
    assert endpoint.oauth().refresh(TOKENS).refresh_token == "1//refresh-2"


def test_token_revoked_is_auth_error(endpoint: Endpoint) -> None:
    endpoint.replies.append(
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    )
    with pytest.raises(AuthError, match=r"^invalid_grant: Token has been expired or revoked\.$"):
        endpoint.oauth().refresh(TOKENS)


def test_refresh_with_a_wrong_client_is_permanent(endpoint: Endpoint) -> None:
    endpoint.replies.append((401, {"error": "invalid_client", "error_description": "Unauthorized"}))
    with pytest.raises(PermanentError, match="invalid_client"):
        endpoint.oauth().refresh(TOKENS)


def test_reauthentication_required_is_auth_error(endpoint: Endpoint) -> None:
    reply = {"error": "invalid_grant", "error_subtype": "invalid_rapt", "error_description": "x"}
    endpoint.replies.append((400, reply))
    with pytest.raises(AuthError, match="reauthentication"):
        endpoint.oauth().refresh(TOKENS)


def test_refresh_without_a_refresh_token_is_auth_error() -> None:
    with pytest.raises(AuthError):
        GoogleOAuth(SETTINGS).refresh(TokenSet("ya29.old", None, None))


def test_refresh_unreachable_is_transient() -> None:
    with pytest.raises(TransientError):
        GoogleOAuth({**SETTINGS, "oauth_url": closed_port_url()}).refresh(TOKENS)


def test_refresh_behind_a_failing_proxy_is_transient(endpoint: Endpoint) -> None:
    endpoint.replies.append((502, "<html>Bad Gateway</html>"))
    with pytest.raises(TransientError):
        endpoint.oauth().refresh(TOKENS)


def test_refresh_during_an_outage_is_transient(endpoint: Endpoint) -> None:
    """google-auth retries 503 itself (three attempts, about 3 s of backoff) before giving up."""
    endpoint.replies += [(503, "<html>Service Unavailable</html>")] * 3
    with pytest.raises(TransientError):
        endpoint.oauth().refresh(TOKENS)
    assert len(endpoint.seen) == 3


# --- revoke and api -----------------------------------------------------------------------


def test_revoke_posts_the_refresh_token(endpoint: Endpoint) -> None:
    endpoint.replies.append((200, {}))
    endpoint.oauth().revoke(TOKENS)
    ((path, form, _),) = endpoint.seen
    assert (path, form) == ("/google/revoke", {"token": "1//refresh-1"})


def test_revoke_failures_are_swallowed(endpoint: Endpoint) -> None:
    endpoint.replies.append((400, {"error": "invalid_token"}))
    endpoint.oauth().revoke(TOKENS)
    GoogleOAuth({**SETTINGS, "oauth_url": closed_port_url()}).revoke(TOKENS)


def test_api_uses_the_access_token_and_configured_host(endpoint: Endpoint) -> None:
    api = endpoint.oauth().api(TOKENS)
    assert isinstance(api, GoogleCalendarApi)
    assert api.batch_uri == f"{endpoint.url}/batch/calendar/v3"
    assert api.http.credentials.token == "ya29.old"
