"""Error mapping and quick retries of API calls (calls.py), through the real API object."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.google import GoogleCalendarApi
from connectors.google.calls import Caller
from tests.connectors.google.test_api import API, TOKEN, Recorder, error, ok

WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)


def test_401_is_auth_error_without_a_refresh_attempt() -> None:
    r = Recorder(error(401, "authError", "Invalid Credentials"))
    with pytest.raises(AuthError):
        r.api.account_email()
    assert len(r.calls) == 1


def test_429_is_retried_honouring_retry_after() -> None:
    r = Recorder(error(429, "rateLimitExceeded", **{"retry-after": "3"}), ok({"id": "a@b"}))
    assert r.api.account_email() == "a@b"
    assert r.sleeps == [3.0]


def test_429_storm_ends_in_transient_error_with_retry_after() -> None:
    storm = [error(429, "rateLimitExceeded", **{"retry-after": "2"}) for _ in range(3)]
    r = Recorder(*storm)
    with pytest.raises(TransientError) as caught:
        r.api.account_email()
    assert caught.value.retry_after == 2.0
    assert len(r.calls) == 3


def test_long_retry_after_is_left_to_the_job_layer() -> None:
    r = Recorder(error(429, "rateLimitExceeded", **{"retry-after": "120"}))
    with pytest.raises(TransientError) as caught:
        r.api.account_email()
    assert caught.value.retry_after == 120.0
    assert r.sleeps == []


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
def test_403_rate_limit_is_transient(reason: str) -> None:
    r = Recorder(*[error(403, reason, "Rate Limit Exceeded") for _ in range(3)])
    with pytest.raises(TransientError):
        r.api.account_email()


def test_403_forbidden_is_permanent() -> None:
    r = Recorder(error(403, "forbidden", "Forbidden"))
    with pytest.raises(PermanentError) as caught:
        r.api.account_email()
    assert caught.value.status == 403
    assert not isinstance(caught.value, NotFound)


def test_5xx_is_retried_then_succeeds() -> None:
    r = Recorder(error(500, "backendError"), error(503, "backendError"), ok({"id": "a@b"}))
    assert r.api.account_email() == "a@b"
    assert len(r.sleeps) == 2


class Refused:
    """An httplib2 stand-in whose connection is refused (nothing reached Google)."""

    def __init__(self) -> None:
        self.attempts = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        raise ConnectionRefusedError(111, "Connection refused")


def test_network_failure_is_transient() -> None:
    http = Refused()
    api = GoogleCalendarApi(TOKEN, API, http=http, caller=Caller(sleep=lambda _: None))
    with pytest.raises(TransientError):
        api.account_email()
    assert http.attempts == 3


def test_messages_name_the_call_not_the_url_or_tokens() -> None:
    r = Recorder(*[error(503, "backendError", "secret-ish detail") for _ in range(3)])
    with pytest.raises(TransientError) as caught:
        r.api.changes("primary", "sync-token-value", (WINDOW_START, WINDOW_START))
    assert str(caught.value) == "google events.list -> 503"


def test_retries_are_logged_without_bodies(caplog: pytest.LogCaptureFixture) -> None:
    r = Recorder(error(500, "backendError", "body text"), ok({"id": "a@b"}))
    r.api.account_email()
    (record,) = [r for r in caplog.records if r.name == "connectors.google.calls"]
    assert record.getMessage().startswith("google calendars.get primary -> 500 (attempt 1)")
    assert "body text" not in caplog.text
    assert TOKEN not in caplog.text
