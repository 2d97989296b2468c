"""The one HTTP helper every provider client uses: status codes to errors, retries with tenacity."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import requests
from prometheus_client import Counter
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from connectors.errors import AuthError, NotFound, PermanentError, TransientError

logger = logging.getLogger(__name__)

ResetAfter = Callable[[Mapping[str, str], datetime], float | None]
"""Reads a provider's own rate-limit headers: seconds to wait, or None."""

_ERROR_TEXT_LIMIT = 300
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Unsent(TransientError):
    """A transient failure where the provider surely did not act (429, connect failure)."""


def seconds_until(value: str, now: datetime) -> float | None:
    """Seconds to wait from a header value: delta seconds, epoch seconds/ms, or an HTTP-date."""
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if number != number or number in (float("inf"), float("-inf")):  # NaN / inf
        return None
    if number > 1e12:  # epoch milliseconds
        number = number / 1000 - now.timestamp()
    elif number > 1e9:  # epoch seconds
        number -= now.timestamp()
    return max(0.0, number)


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """The standard `Retry-After` header in seconds, or None."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    return seconds_until(value, now) if value else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _error_text(response: requests.Response) -> str:
    """A short provider error message from a response body (never logged)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:_ERROR_TEXT_LIMIT].strip()
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            for key in ("message", "code", "details"):
                if isinstance(err.get(key), str):
                    return str(err[key])[:_ERROR_TEXT_LIMIT]
        for key in ("message", "error_description", "error", "info"):
            if isinstance(body.get(key), str):
                return str(body[key])[:_ERROR_TEXT_LIMIT]
    return str(body)[:_ERROR_TEXT_LIMIT]


#: every provider API call by provider and status ("error" when no answer came)
PROVIDER_CALLS = Counter("sessionhub_provider_calls", "Provider API calls", ["provider", "status"])


class HttpClient:
    """Calls one provider's REST API; maps statuses to connector errors; retries transient ones."""

    def __init__(
        self,
        base_url: str,
        provider: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        default_headers: Mapping[str, str] | None = None,
        auth_statuses: Collection[int] = frozenset({401}),
        reset_after: ResetAfter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 30.0,
        backoff: float = 0.5,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.default_headers = dict(default_headers or {})
        self.auth_statuses = frozenset(auth_statuses)
        self.reset_after = reset_after
        self.sleep = sleep
        self.max_wait = max_wait
        self.clock = clock
        self._jitter = wait_random_exponential(multiplier=backoff, max=max_wait)

    def url(self, path: str) -> str:
        """The absolute URL for a path below the base URL."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200, 201, 204),
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send a request, retrying TransientError; raise the mapped error otherwise.

        Non-idempotent calls (POST/PATCH unless told otherwise) are retried here only when
        the provider surely did not act on them, so a lost answer never books twice.
        """
        safe = method.upper() in _IDEMPOTENT if idempotent is None else idempotent
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError if safe else Unsent),
            stop=self._stop,
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
            before_sleep=lambda state: self._log_retry(method, path, state),
        )
        merged = {**self.default_headers, **(headers or {})}
        return retrying(self._send, method, path, json, params, merged, ok)

    def json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200, 201, 204),
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Like request(), returning the JSON object body ({} for an empty body)."""
        response = self.request(
            method, path, json=json, params=params, headers=headers, ok=ok, idempotent=idempotent
        )
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as err:
            raise PermanentError(
                f"{self.provider} {method} {path}: response is not JSON", response.status_code
            ) from err
        if not isinstance(body, dict):
            raise PermanentError(
                f"{self.provider} {method} {path}: response is not a JSON object",
                response.status_code,
            )
        return body

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, Any] | None,
        headers: dict[str, str],
        ok: Collection[int],
    ) -> requests.Response:
        where = f"{self.provider} {method} {path}"
        try:
            response = self.session.request(
                method,
                self.url(path),
                json=body,
                params=params,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.ConnectTimeout as err:  # never reached the provider
            PROVIDER_CALLS.labels(self.provider, "error").inc()
            raise Unsent(f"{where}: {type(err).__name__}") from err
        except (requests.ConnectionError, requests.Timeout) as err:
            PROVIDER_CALLS.labels(self.provider, "error").inc()
            raise TransientError(f"{where}: {type(err).__name__}") from err
        except requests.RequestException as err:
            PROVIDER_CALLS.labels(self.provider, "error").inc()
            raise PermanentError(f"{where}: {type(err).__name__}") from err
        status = response.status_code
        PROVIDER_CALLS.labels(self.provider, str(status)).inc()
        logger.debug("%s -> %s", where, status)
        if status in ok:
            return response
        raise self._error(where, response)

    def _error(self, where: str, response: requests.Response) -> Exception:
        """The connector error for a response whose status is not acceptable."""
        status = response.status_code
        if status in self.auth_statuses:
            return AuthError(f"{where} -> {status}: credentials refused")
        if status == 429:  # refused before any work was done
            return Unsent(f"{where} -> 429", retry_after=self._retry_after(response))
        if status >= 500:
            return TransientError(f"{where} -> {status}", retry_after=self._retry_after(response))
        text = _error_text(response)
        if status in (404, 410):
            return NotFound(f"{where} -> {status}: {text}", status)
        return PermanentError(f"{where} -> {status}: {text}", status)

    def _retry_after(self, response: requests.Response) -> float | None:
        now = self.clock()
        waits = [retry_after(response.headers, now)]
        if self.reset_after is not None:
            waits.append(self.reset_after(response.headers, now))
        known = [w for w in waits if w is not None]
        return max(known) if known else None

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        err = state.outcome.exception() if state.outcome else None
        # the provider asks for longer than we block a worker: let the job layer retry later
        return (
            isinstance(err, TransientError)
            and err.retry_after is not None
            and err.retry_after > self.max_wait
        )

    def _wait(self, state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        if isinstance(err, TransientError) and err.retry_after is not None:
            return min(err.retry_after, self.max_wait)
        return float(self._jitter(state))

    def _log_retry(self, method: str, path: str, state: RetryCallState) -> None:
        # TransientError messages hold provider, method, path and status only (never a body)
        err = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        what = err if err is not None else f"{self.provider} {method} {path}"
        logger.warning("%s (attempt %d), retrying in %.1fs", what, state.attempt_number, wait)


class BearerClient:
    """Base of the API-key REST clients: one HttpClient sending `Authorization: Bearer <key>`.

    A subclass names its provider, default base URL, the statuses that mean "our key was
    refused", any pinned headers (API versions) and how its 429s say when to come back.
    """

    slug: ClassVar[str]
    default_base_url: ClassVar[str]
    auth_statuses: ClassVar[frozenset[int]] = frozenset({401})
    pinned_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 10.0,
        max_attempts: int = 4,
    ) -> None:
        self.http = HttpClient(
            base_url or self.default_base_url,
            self.slug,
            session=session,
            timeout=timeout,
            max_attempts=max_attempts,
            default_headers={"Authorization": f"Bearer {api_key}", **self.pinned_headers},
            auth_statuses=self.auth_statuses,
            reset_after=self.retry_hint,
            sleep=sleep,
        )

    def retry_hint(self, headers: Mapping[str, str], now: datetime) -> float | None:
        """Seconds until a throttled call may be retried, from provider headers (None: unknown)."""
        return None
