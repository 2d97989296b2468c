"""What the Calendar API routes share: the caller behind the bearer token, replies, queries."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from connectors.sandbox import google_push
from connectors.sandbox.api import bearer, current, json_response
from connectors.sandbox.google_models import Calendar, GoogleError
from connectors.sandbox.google_store import GoogleStore

SEND_UPDATES = ("all", "externalOnly", "none")


def store() -> GoogleStore:
    """The Google side of the sandbox's state."""
    return current().state.google


def caller() -> str:
    """The e-mail behind the request's access token (the gate already refused bad ones)."""
    token = bearer(request.headers.get("Authorization"))
    email = store().oauth.account_for(token) if token else None
    if email is None:
        raise GoogleError(401, "authError", "Invalid Credentials")
    return email


def calendar(calendar_id: str) -> Calendar:
    """One of the caller's calendars (`primary` is their own); 404 for anyone else's."""
    return store().calendar(calendar_id, caller())


def send_updates() -> str | None:
    """The `sendUpdates` query parameter, checked."""
    value = request.args.get("sendUpdates")
    if value is not None and value not in SEND_UPDATES:
        raise GoogleError(400, "invalid", f"Invalid value for sendUpdates: {value}")
    return value


def reply(body: Any, status: int = 200, etag: str | None = None) -> Response:
    """A JSON answer (with the ETag header when the resource has one)."""
    return json_response(body, status, {"ETag": etag} if etag else None)


def no_content() -> Response:
    """204 with an empty body."""
    return Response(status=204)


def changed(cal: Calendar, *, deliver: bool = True) -> list[Any]:
    """Push `exists` to the calendar's live channels after a change; the deliveries as JSON."""
    return [d.to_json() for d in google_push.changed(current(), cal.id, deliver=deliver)]
