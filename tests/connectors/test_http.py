"""The shared HTTP helper: status mapping, retries with backoff, Retry-After and reset headers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.http import HttpClient, retry_after, seconds_until

BASE = "https://api.provider.test/v1"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def waits() -> list[float]:
    """The sleeps the helper asked for, instead of sleeping."""
    return []


def client(waits: list[float], **overrides: Any) -> HttpClient:
    options: dict[str, Any] = {"sleep": waits.append, "clock": lambda: NOW, "max_attempts": 4}
    options.update(overrides)
    return HttpClient(BASE, "example", **options)


@responses.activate
def test_429_with_retry_after_then_200_retries_once_and_honours_the_wait(
    waits: list[float],
) -> None:
    responses.get(f"{BASE}/things", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/things", json={"ok": True})

    assert client(waits).json("GET", "/things") == {"ok": True}
    assert waits == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_as_http_date(waits: list[float]) -> None:
    when = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    responses.get(f"{BASE}/things", status=503, headers={"Retry-After": when})
    responses.get(f"{BASE}/things", json={})

    client(waits).request("GET", "/things")
    assert waits == [12.0]


@responses.activate
def test_503_every_time_raises_transient_after_the_attempts(waits: list[float]) -> None:
    responses.get(f"{BASE}/things", status=503)

    with pytest.raises(TransientError) as caught:
        client(waits, max_attempts=3).request("GET", "/things")
    assert len(responses.calls) == 3
    assert len(waits) == 2  # exponential backoff with jitter between attempts
    assert all(0 <= w <= 30 for w in waits)
    assert caught.value.retry_after is None


@responses.activate
def test_retry_after_longer_than_the_cap_is_left_to_the_job_layer(waits: list[float]) -> None:
    responses.get(f"{BASE}/things", status=429, headers={"Retry-After": "120"})

    with pytest.raises(TransientError) as caught:
        client(waits, max_wait=30).request("GET", "/things")
    assert caught.value.retry_after == 120.0
    assert waits == []
    assert len(responses.calls) == 1


@responses.activate
def test_provider_reset_header_is_pluggable(waits: list[float]) -> None:
    def reset(headers: Mapping[str, str], now: datetime) -> float | None:
        return float(headers["X-Reset-In"]) if "X-Reset-In" in headers else None

    responses.get(f"{BASE}/things", status=429, headers={"X-Reset-In": "3"})
    responses.get(f"{BASE}/things", json={})

    client(waits, reset_after=reset).request("GET", "/things")
    assert waits == [3.0]


@responses.activate
def test_404_and_410_are_not_found(waits: list[float]) -> None:
    responses.get(f"{BASE}/gone", status=404, json={"message": "no such thing"})
    responses.get(f"{BASE}/went", status=410)

    with pytest.raises(NotFound) as caught:
        client(waits).request("GET", "/gone")
    assert caught.value.status == 404
    assert "no such thing" in str(caught.value)
    with pytest.raises(NotFound):
        client(waits).request("GET", "/went")
    assert waits == []


@responses.activate
def test_401_is_auth_error_without_retry(waits: list[float]) -> None:
    responses.get(f"{BASE}/me", status=401)

    with pytest.raises(AuthError):
        client(waits).request("GET", "/me")
    assert len(responses.calls) == 1


@responses.activate
def test_auth_statuses_are_configurable(waits: list[float]) -> None:
    responses.get(f"{BASE}/me", status=498)

    with pytest.raises(AuthError):
        client(waits, auth_statuses={401, 498}).request("GET", "/me")
    with pytest.raises(PermanentError):
        client(waits).request("GET", "/me")


@pytest.mark.parametrize("status", [400, 403, 409, 422])
@responses.activate
def test_other_4xx_are_permanent_with_the_provider_text(waits: list[float], status: int) -> None:
    body = {"status": "error", "error": {"code": "BadRequest", "message": "start is in the past"}}
    responses.post(f"{BASE}/things", status=status, json=body)

    with pytest.raises(PermanentError) as caught:
        client(waits).request("POST", "/things", json={"a": 1})
    assert not isinstance(caught.value, NotFound)
    assert caught.value.status == status
    assert "start is in the past" in str(caught.value)
    assert len(responses.calls) == 1


@responses.activate
def test_unexpected_success_status_is_permanent(waits: list[float]) -> None:
    responses.post(f"{BASE}/things", status=200, json={})

    with pytest.raises(PermanentError):
        client(waits).request("POST", "/things", ok=(201,))


@responses.activate
def test_connection_error_is_retried(waits: list[float]) -> None:
    responses.get(f"{BASE}/things", body=requests.ConnectionError("connection refused"))
    responses.get(f"{BASE}/things", json={"ok": 1})

    assert client(waits).json("GET", "/things") == {"ok": 1}
    assert len(waits) == 1


@responses.activate
def test_timeouts_exhaust_into_transient_error(waits: list[float]) -> None:
    responses.get(f"{BASE}/slow", body=requests.Timeout("read timed out"))

    with pytest.raises(TransientError):
        client(waits, max_attempts=2).request("GET", "/slow")
    assert len(responses.calls) == 2


@responses.activate
def test_post_is_not_retried_when_the_provider_may_have_acted(waits: list[float]) -> None:
    responses.post(f"{BASE}/bookings", status=503)
    responses.post(f"{BASE}/slow", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(TransientError):
        client(waits).request("POST", "/bookings", json={})
    with pytest.raises(TransientError):
        client(waits).request("POST", "/slow", json={})
    assert len(responses.calls) == 2
    assert waits == []


@responses.activate
def test_post_is_retried_when_the_provider_surely_did_not_act(waits: list[float]) -> None:
    responses.post(f"{BASE}/bookings", status=429, headers={"Retry-After": "1"})
    responses.post(f"{BASE}/bookings", body=requests.ConnectTimeout("connect timed out"))
    responses.post(f"{BASE}/bookings", status=201, json={"uid": "b"})

    assert client(waits).json("POST", "/bookings", json={}) == {"uid": "b"}
    assert len(responses.calls) == 3


@responses.activate
def test_post_marked_idempotent_is_retried_on_5xx(waits: list[float]) -> None:
    responses.post(f"{BASE}/things/1/cancel", status=502)
    responses.post(f"{BASE}/things/1/cancel", json={})

    client(waits).request("POST", "/things/1/cancel", idempotent=True)
    assert len(responses.calls) == 2


@responses.activate
def test_headers_params_and_body_are_sent(waits: list[float]) -> None:
    responses.post(
        f"{BASE}/things",
        status=201,
        json={"id": 1},
        match=[
            matchers.header_matcher({"Authorization": "Bearer k", "X-Extra": "1"}),
            matchers.query_param_matcher({"q": "x"}),
            matchers.json_params_matcher({"a": 1}),
        ],
    )
    http = client(waits, default_headers={"Authorization": "Bearer k"})
    body = http.json("POST", "things", json={"a": 1}, params={"q": "x"}, headers={"X-Extra": "1"})
    assert body == {"id": 1}


@responses.activate
def test_empty_body_is_an_empty_object_and_non_objects_are_refused(waits: list[float]) -> None:
    responses.delete(f"{BASE}/things/1", status=204)
    responses.get(f"{BASE}/list", json=[1, 2])

    assert client(waits).json("DELETE", "/things/1") == {}
    with pytest.raises(PermanentError):
        client(waits).json("GET", "/list")


@responses.activate
def test_logs_never_carry_headers_or_bodies(
    waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    responses.post(f"{BASE}/things", status=503, body="secret-body-text")
    responses.post(f"{BASE}/things", status=201, json={})
    caplog.set_level(logging.DEBUG, logger="connectors.http")

    http = client(waits, default_headers={"Authorization": "Bearer sk_live_token"})
    http.request("POST", "/things", json={"card": "4242"}, idempotent=True)
    assert "/things" in caplog.text
    for secret in ("sk_live_token", "Bearer", "4242", "secret-body-text"):
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("2.5", 2.5),
        (str(int(NOW.timestamp()) + 40), 40.0),
        (str(int(NOW.timestamp() * 1000) + 9000), 9.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        ("nan", None),
    ],
)
def test_seconds_until(value: str, expected: float | None) -> None:
    assert seconds_until(value, NOW) == expected


def test_retry_after_reads_the_header_case_insensitively() -> None:
    assert retry_after({"retry-after": "4"}, NOW) == 4.0
    assert retry_after({"Retry-After": "4"}, NOW) == 4.0
    assert retry_after({}, NOW) is None
