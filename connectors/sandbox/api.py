"""What every provider module shares: errors, the provider descriptor, the running sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

from flask import Blueprint, Response, current_app, request

from connectors.sandbox.chaos import ChaosSwitch
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.state import SandboxConfig, SandboxState
from connectors.sandbox.webhooks import WebhookSender


class ApiError(Exception):
    """An error answer; each provider renders it in its own JSON shape."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message or _phrase(status)
        self.code = code
        self.headers = dict(headers or {})
        super().__init__(f"{status}: {self.message}")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def json_body() -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); ApiError 400 otherwise."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise ApiError(400, "body is not valid JSON") from err
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


Authenticate = Callable[[str | None, str | None], ApiError | None]
"""(Authorization header, configured key) -> the error to answer, or None to let the call in."""


@dataclass(frozen=True)
class ProviderApi:
    """One emulated provider: its blueprint, where it is mounted and how it says no."""

    slug: str
    prefix: str
    blueprint: Blueprint
    authenticate: Authenticate
    render: Callable[[ApiError], Response]

    def owns(self, path: str) -> bool:
        """Whether a request path is below this provider's base URL."""
        return path == self.prefix or path.startswith(self.prefix + "/")

    def relative(self, path: str) -> str:
        """The path below the base URL (`/rooms/x` for `/daily/v1/rooms/x`)."""
        return path[len(self.prefix) :] or "/"


@dataclass
class Sandbox:
    """The parts of one sandbox: configuration, state, faults, webhook sender, providers."""

    config: SandboxConfig
    state: SandboxState
    faults: FaultInjector
    webhooks: WebhookSender
    providers: tuple[ProviderApi, ...] = ()
    chaos: ChaosSwitch = field(default_factory=ChaosSwitch)

    def provider_for(self, path: str) -> ProviderApi | None:
        """The provider that serves a request path."""
        return next((p for p in self.providers if p.owns(path)), None)

    def reset(self) -> None:
        """Forget all state, logs, outbox and faults (the hub URL stays)."""
        self.webhooks.flush()
        self.faults.clear()
        self.chaos.clear()
        self.state.reset()


def current() -> Sandbox:
    """The sandbox of the running Flask app."""
    return cast(Sandbox, current_app.extensions["sandbox"])
