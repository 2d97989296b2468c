"""Daily REST API emulation, mounted at /daily/v1: rooms, meeting tokens, meetings, webhooks."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from flask import Blueprint, Response, request

from connectors.sandbox import daily_webhooks
from connectors.sandbox.api import ApiError, ProviderApi, bearer, current, json_body, json_response
from connectors.sandbox.models import DOMAIN_ID, Meeting, Room

blueprint = Blueprint("daily", __name__)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_PRIVACY = ("public", "private", "org")
_NUMBERS = ("nbf", "exp", "max_participants", "eject_after_elapsed")
_CODES = {
    400: "invalid-request-error",
    401: "authentication-error",
    403: "authorization-error",
    404: "not-found",
    409: "invalid-request-error",
    429: "rate-limit-error",
}
MAX_LIMIT = 100


def render(err: ApiError) -> Response:
    """Daily's error body: `{"error": <code>, "info": <text>}`."""
    code = err.code or _CODES.get(err.status, "server-error")
    return json_response({"error": code, "info": err.message}, err.status, err.headers)


def authenticate(header: str | None, key: str | None) -> ApiError | None:
    """Missing header -> 400 authorization-header-error; wrong key -> 401 authentication-error."""
    token = bearer(header)
    if token is None:
        return ApiError(400, "missing Authorization header", "authorization-header-error")
    if key is not None and token != key:
        return ApiError(401, "the API key is not valid", "authentication-error")
    return None


def _properties(raw: Any, what: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, f"{what} must be an object")
    for key in _NUMBERS:
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ApiError(400, f"{key} must be a number")
    return dict(raw)


def _room(name: str) -> Room:
    with current().state.lock:
        room = current().state.rooms.get(name)
    if room is None:
        raise ApiError(404, f"room {name} was not found")
    return room


@blueprint.post("/rooms")
def create_room() -> Response:
    """POST /rooms {name?, privacy?, properties?}."""
    body = json_body()
    state = current().state
    name = body.get("name") or "".join(secrets.choice(string.ascii_letters) for _ in range(20))
    if not isinstance(name, str) or not _NAME.match(name):
        raise ApiError(400, "name may only hold letters, digits, '-' and '_' (1-128)")
    privacy = body.get("privacy", "public")
    if privacy not in _PRIVACY:
        raise ApiError(400, f"privacy must be one of {', '.join(_PRIVACY)}")
    properties = _properties(body.get("properties"), "properties")
    with state.lock:
        if name in state.rooms:
            raise ApiError(400, f"a room named {name} already exists")
        room = state.add_room(name, privacy, properties)
    return json_response(room.to_json())


@blueprint.get("/rooms")
def list_rooms() -> Response:
    """GET /rooms."""
    with current().state.lock:
        rooms = [r.to_json() for r in current().state.rooms.values()]
    return json_response({"total_count": len(rooms), "data": rooms[:MAX_LIMIT]})


@blueprint.get("/rooms/<name>")
def get_room(name: str) -> Response:
    """GET /rooms/{name}."""
    return json_response(_room(name).to_json())


@blueprint.post("/rooms/<name>")
def update_room(name: str) -> Response:
    """POST /rooms/{name}: set privacy and merge properties."""
    body = json_body()
    properties = _properties(body.get("properties"), "properties")
    with current().state.lock:
        room = _room(name)
        if "privacy" in body:
            if body["privacy"] not in _PRIVACY:
                raise ApiError(400, f"privacy must be one of {', '.join(_PRIVACY)}")
            room.privacy = body["privacy"]
        room.properties.update(properties)
        return json_response(room.to_json())


@blueprint.delete("/rooms/<name>")
def delete_room(name: str) -> Response:
    """DELETE /rooms/{name}."""
    with current().state.lock:
        _room(name)
        del current().state.rooms[name]
    return json_response({"deleted": True, "name": name})


@blueprint.post("/meeting-tokens")
def create_token() -> Response:
    """POST /meeting-tokens {properties} -> {token}; the claims are kept for the tests."""
    claims = _properties(json_body().get("properties"), "properties")
    for key in ("is_owner", "eject_at_token_exp"):
        if key in claims and not isinstance(claims[key], bool):
            raise ApiError(400, f"{key} must be a boolean")
    return json_response({"token": current().state.issue_token(claims).token})


@blueprint.get("/meeting-tokens/<token>")
def validate_token(token: str) -> Response:
    """GET /meeting-tokens/{token}: the claims of a token this sandbox issued."""
    with current().state.lock:
        grant = next((t for t in current().state.tokens if t.token == token), None)
    if grant is None:
        raise ApiError(400, "token is not valid")
    return json_response(grant.claims)


def _meeting(meeting_id: str) -> Meeting:
    with current().state.lock:
        found = next((m for m in current().state.meetings if m.id == meeting_id), None)
    if found is None:
        raise ApiError(404, f"meeting {meeting_id} was not found")
    return found


def _number_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as err:
        raise ApiError(400, f"{name} must be a whole number") from err


@blueprint.get("/meetings")
def list_meetings() -> Response:
    """GET /meetings: newest first, filtered by room/timeframe/ongoing, cursor paging."""
    args = request.args
    with current().state.lock:
        meetings = list(current().state.meetings)
    start, end = _number_arg("timeframe_start"), _number_arg("timeframe_end")
    limit = _number_arg("limit") or MAX_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}")
    found = [
        m
        for m in meetings
        if args.get("room") in (None, m.room)
        and (start is None or m.start_time >= start)
        and (end is None or m.start_time < end)
        and (args.get("ongoing") in (None, str(m.ongoing).lower()))
    ]
    found.sort(key=lambda m: (m.start_time, m.id), reverse=True)
    ids = [m.id for m in found]
    if args.get("starting_after") in ids:
        found = found[ids.index(args["starting_after"]) + 1 :]
    elif args.get("ending_before") in ids:
        found = found[: ids.index(args["ending_before"])][-limit:]
    return json_response({"total_count": len(ids), "data": [m.to_json() for m in found[:limit]]})


@blueprint.get("/meetings/<meeting_id>")
def get_meeting(meeting_id: str) -> Response:
    """GET /meetings/{id}."""
    return json_response(_meeting(meeting_id).to_json())


@blueprint.get("/meetings/<meeting_id>/participants")
def meeting_participants(meeting_id: str) -> Response:
    """GET /meetings/{id}/participants."""
    return json_response({"data": _meeting(meeting_id).to_json()["participants"]})


@blueprint.get("/")
def get_domain() -> Response:
    """GET / : the domain's configuration."""
    config = {"hipaa": False, "enable_prejoin_ui": True}
    return json_response({"domain_name": "sandbox", "domain_id": DOMAIN_ID, "config": config})


blueprint.register_blueprint(daily_webhooks.blueprint)

PROVIDER = ProviderApi("daily", "/daily/v1", blueprint, authenticate, render)
