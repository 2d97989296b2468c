"""Errors that reach clients: each becomes JSON {"error", "message", "field"?}."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """A refusal with an HTTP status, a stable code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, field: str | None = None, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        out.update(self.extra)
        return out


class ValidationFailed(HubError):
    """The request names something invalid."""

    status = 400
    code = "invalid"


class Unauthorized(HubError):
    """No or a wrong credential."""

    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    """Known caller, not allowed."""

    status = 403
    code = "forbidden"


class NotFound(HubError):
    """No such thing."""

    status = 404
    code = "not_found"


class Conflict(HubError):
    """The request contradicts the current state."""

    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """A session status change the state machine refuses."""

    code = "invalid_transition"


class SessionNotFound(NotFound):
    """A change names a session the hub does not hold (yet)."""

    code = "session_not_found"


class Gone(HubError):
    """It existed, and can no longer be used (a call that is over)."""

    status = 410
    code = "gone"


class NotReady(Conflict):
    """Not there yet (a room being prepared), or not the hub's to hand out."""

    code = "room_not_ready"


class Unavailable(HubError):
    """A dependency is down; the caller should retry."""

    status = 503
    code = "unavailable"
