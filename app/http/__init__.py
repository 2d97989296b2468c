"""HTTP blueprints and the JSON error handling every route shares."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.errors import HubError

log = logging.getLogger(__name__)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint and the error handlers."""
    from app.http import api, connect, feeds, health, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(connect.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(feeds.bp)
    from app.http.dashboard import bp as dashboard  # the ops pages (issue 9)

    app.register_blueprint(dashboard)
    from app.http import limits, security

    limits.install(app, app.extensions["sessionhub"].settings)
    security.install(app, app.extensions["sessionhub"].settings)

    @app.errorhandler(HubError)
    def _hub_error(err: HubError) -> tuple[Response, int]:
        return jsonify(err.body()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int]:
        code = (err.name or "error").lower().replace(" ", "_")
        status = err.code or 500
        return jsonify({"error": code, "message": err.description or err.name}), status

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(err: OperationalError | InterfaceError) -> tuple[Response, int, dict[str, str]]:
        log.error("database unavailable: %s", type(err.orig).__name__ if err.orig else err)
        body = {"error": "unavailable", "message": "the database is unavailable, retry later"}
        return jsonify(body), 503, {"Retry-After": "5"}

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return jsonify({"error": "internal", "message": "internal error"}), 500
