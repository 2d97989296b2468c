"""Graph call plumbing: 4 requests in flight per mailbox, mailbox keys, batch item errors."""

from __future__ import annotations

import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.http import Unsent
from connectors.outlook import OutlookCalendarApi
from connectors.outlook.calls import GraphSession, error_for, mailbox_key, mailbox_slots

API = "https://graph.test/v1.0"


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


class InFlight:
    """A slow Graph that records how many requests it serves at once."""

    def __init__(self, delay: float = 0.15) -> None:
        self.delay = delay
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return 200, {}, json.dumps({"mail": "c@x.test"})


def run_parallel(apis: list[OutlookCalendarApi]) -> list[str]:
    with ThreadPoolExecutor(max_workers=len(apis)) as pool:
        return list(pool.map(lambda api: api.account_email(), apis))


def test_never_more_than_4_requests_in_flight_per_mailbox() -> None:
    server = InFlight()
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/me", callback=server)
        # separate clients (as separate jobs would have), one mailbox
        apis = [OutlookCalendarApi(f"tok-{n}", API, mailbox="coach-a") for n in range(5)]
        assert run_parallel(apis) == ["c@x.test"] * 5
    assert server.peak == 4


def test_mailboxes_do_not_share_slots() -> None:
    server = InFlight()
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/me", callback=server)
        apis = [OutlookCalendarApi("t", API, mailbox=f"m-{n % 2}") for n in range(6)]
        run_parallel(apis)
    assert server.peak == 6


def test_the_same_mailbox_gets_the_same_semaphore() -> None:
    first = mailbox_slots("same")
    assert mailbox_slots("same") is first
    assert mailbox_slots("other") is not first


def test_mailbox_keys_from_tokens() -> None:
    token = jwt({"oid": "o-1", "tid": "t-1", "upn": "c@x.test"})
    assert mailbox_key(token) == "t-1:o-1"
    assert mailbox_key(jwt({"oid": "o-1", "tid": "t-1", "exp": 1})) == "t-1:o-1"
    opaque = mailbox_key("EwBwA8l6BAAU-opaque-msa-token")
    assert opaque.startswith("token:")
    assert "opaque" not in opaque  # a digest, not the token
    assert mailbox_key("a.b.c").startswith("token:")


def test_token_mailbox_is_used_without_an_explicit_one() -> None:
    server = InFlight(delay=0.1)
    token = jwt({"oid": "o-9", "tid": "t-9"})
    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/me", callback=server)
        run_parallel([OutlookCalendarApi(token, API) for _ in range(5)])
    assert server.peak == 4


NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthError),
        (429, Unsent),
        (503, TransientError),
        (404, NotFound),
        (410, NotFound),
        (409, PermanentError),
    ],
)
def test_batch_item_errors(status: int, kind: type[Exception]) -> None:
    error = error_for(status, {"Retry-After": "7"}, {"error": {"code": "Code"}}, "create", NOW)
    assert type(error) is kind
    if isinstance(error, TransientError):
        assert error.retry_after == 7.0
    if isinstance(error, PermanentError):
        assert error.status == status
        assert "Code" in str(error)


def test_the_ca_bundle_beats_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets REQUESTS_CA_BUNDLE override Session.verify (psf/requests#3829)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/env/ca.pem")
    pinned = GraphSession(ca_bundle="/sandbox/ca.pem")
    settings = pinned.merge_environment_settings("https://127.0.0.1/x", {}, None, None, None)
    assert settings["verify"] == "/sandbox/ca.pem"
    plain = GraphSession()
    settings = plain.merge_environment_settings("https://127.0.0.1/x", {}, None, None, None)
    assert settings["verify"] == "/env/ca.pem"


def test_the_session_applies_its_default_timeout() -> None:
    seen: list[Any] = []

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        seen.append(request.req_kwargs.get("timeout"))
        return 200, {}, "{}"

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.GET, f"{API}/x", callback=reply)
        GraphSession(timeout=4.0).get(f"{API}/x")
        GraphSession(timeout=4.0).get(f"{API}/x", timeout=1.0)
    assert seen == [4.0, 1.0]
