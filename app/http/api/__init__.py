"""The platform's REST API under /api (Bearer API key on every route)."""

from __future__ import annotations

from flask import Blueprint, g, request

from app.apikeys import authenticate
from app.errors import Unauthorized
from app.http.api.params import refuse_nul
from app.hub import hub

bp = Blueprint("api", __name__, url_prefix="/api")

#: routes anyone may read: the OpenAPI document holds the API's shape, no data and no secret
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


@bp.before_request
def _require_key() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an API key is required: Authorization: Bearer <key>")
    with hub().db.session() as db:
        key = authenticate(db, token.strip())
    if key is None:
        raise Unauthorized("the API key is unknown or revoked", code="invalid_api_key")
    g.api_key = key


# after the key check: an anonymous caller learns nothing about the input rules
bp.before_request(refuse_nul)


from app.http.api import (  # noqa: E402,F401  (routes)
    availability,
    booking,
    calls,
    coaches,
    connections,
    deliveries,
    endpoints,
    ics,
    jobs,
    openapi,
    people,
    sessions,
)
