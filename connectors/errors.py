"""Connector errors: each one says what the caller does next."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class of every error a connector raises."""


class InvalidSignature(ConnectorError):  # noqa: N818 - the name is the contract (CONVENTIONS)
    """The delivery is not from the provider: reject with 401, never retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidPayload(ConnectorError):  # noqa: N818
    """The body cannot be understood: record it as failed, never retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthError(ConnectorError):
    """Our credentials were refused: mark the connection needs_reauth and park its jobs."""


class PermanentError(ConnectorError):
    """The provider refused the request for good: record the error and stop."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(PermanentError):  # noqa: N818
    """The provider object does not exist (404 / 410)."""


class TransientError(ConnectorError):
    """A passing failure (429, 5xx, network): retry with backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
