"""Runs Google API calls: errors mapped to connector errors, transient ones retried briefly."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import BatchError, HttpError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.google import const
from connectors.http import Unsent, retry_after

logger = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

_TEXT_LIMIT = 200
#: what the transport raises when nothing reached Google (safe to repeat any call)
_UNSENT = (ConnectionRefusedError, httplib2.ServerNotFoundError)
#: what every call may raise on its way to Google and back
CALL_ERRORS = (HttpError, RefreshError, TransportError, httplib2.HttpLib2Error, OSError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _details(content: Any) -> tuple[str, str]:
    """(first error reason, message) of a Google error body; empty strings when unreadable."""
    try:
        body = json.loads(content)
    except (TypeError, ValueError, RecursionError):
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else {}
    reason = first.get("reason") if isinstance(first, dict) else None
    message = error.get("message")
    return (
        reason if isinstance(reason, str) else "",
        message[:_TEXT_LIMIT] if isinstance(message, str) else "",
    )


def error_for(err: BaseException, what: str, now: datetime | None = None) -> Exception:
    """The connector error for a failed call (messages hold status and reason, never bodies)."""
    where = f"google {what}"
    if isinstance(err, BatchError):  # a batch answer that is not multipart
        return TransientError(f"{where}: malformed batch response")
    if isinstance(err, HttpError):
        status = int(err.resp.status)
        reason, message = _details(err.content)
        where = f"{where} -> {status}"
        wait = retry_after(err.resp, now or _utcnow())
        if status == 401:
            return AuthError(f"{where}: credentials refused")
        if status == 429 or (status == 403 and reason in const.RATE_LIMIT_REASONS):
            return Unsent(f"{where} {reason or 'rate limited'}".rstrip(), retry_after=wait)
        if status >= 500:
            return TransientError(where, retry_after=wait)
        text = f"{where}: {reason} {message}".rstrip(": ").strip()
        if status in (404, 410):
            return NotFound(text, status)
        return PermanentError(text, status)
    if isinstance(err, RefreshError):
        # the API is handed an access token only: the hub refreshes under a lock
        return AuthError(f"{where}: access token refused")
    if isinstance(err, _UNSENT):
        return Unsent(f"{where}: {type(err).__name__}")
    if isinstance(err, TransportError | httplib2.HttpLib2Error | OSError):
        return TransientError(f"{where}: {type(err).__name__}")
    return PermanentError(f"{where}: {type(err).__name__}")


class Caller:
    """Sends one call with a few quick retries; longer waits are left to the job layer."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 3,
        max_wait: float = 10.0,
        backoff: float = 0.5,
        clock: Clock = _utcnow,
    ) -> None:
        self.sleep = sleep
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self.clock = clock
        self._jitter = wait_random_exponential(multiplier=backoff, max=max_wait)

    def run(self, what: str, send: Callable[[], T], *, idempotent: bool = True) -> T:
        """Call `send`, retrying TransientError (only Unsent when not idempotent)."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError if idempotent else Unsent),
            stop=self._stop,
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        result: T = retrying(self._once, what, send)
        return result

    def execute(
        self, what: str, request: Any, *, idempotent: bool = True, http: Any = None
    ) -> dict[str, Any]:
        """Execute a googleapiclient request (its own retries off) and return its JSON object;
        `http` replaces the one the request was built with."""
        answer = self.run(
            what, lambda: request.execute(http=http, num_retries=0), idempotent=idempotent
        )
        return answer if isinstance(answer, dict) else {}

    def _once(self, what: str, send: Callable[[], T]) -> T:
        try:
            return send()
        except CALL_ERRORS as err:
            raise error_for(err, what, self.clock()) from err

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        err = state.outcome.exception() if state.outcome else None
        # Google asks for longer than a worker should block: the job layer retries later
        return isinstance(err, TransientError) and (err.retry_after or 0.0) > self.max_wait

    def _wait(self, state: RetryCallState) -> float:
        err = state.outcome.exception() if state.outcome else None
        if isinstance(err, TransientError) and err.retry_after is not None:
            return min(err.retry_after, self.max_wait)
        return float(self._jitter(state))

    def _log_retry(self, state: RetryCallState) -> None:
        err = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s (attempt %d), retrying in %.1fs", err, state.attempt_number, wait)
