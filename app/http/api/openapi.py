"""`GET /api/openapi.json`: the API's OpenAPI 3.1 document (public, like the docs it feeds)."""

from __future__ import annotations

from flask import Response, jsonify

from app.http.api import bp
from app.http.api.contract import document


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI document of every /api route, generated from the request/response models."""
    return jsonify(document())
