"""Probes: /healthz (the process answers) and /readyz (its dependencies answer)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.errors import Forbidden, Unauthorized
from app.hub import hub
from app.metrics import exposition
from connectors.signing import equals

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """The database and the queue are reachable, with each one's latency."""
    h = hub()
    checks: dict[str, dict[str, object]] = {}
    for name, probe in (("database", _db_probe), ("queue", h.queue.ping)):
        began = time.perf_counter()
        try:
            probe()
            checks[name] = {"ok": True}
        except Exception as err:  # noqa: BLE001 - any failure means not ready
            checks[name] = {"ok": False, "error": type(err).__name__}
        checks[name]["ms"] = round((time.perf_counter() - began) * 1000, 2)
    checks["queue"]["backend"] = "in-process" if h.settings.embedded else "redis"
    ready = all(c["ok"] for c in checks.values())
    return jsonify({"status": "ready" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


def _db_probe() -> None:
    with hub().db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: with SESSIONHUB_METRICS_TOKEN as a Bearer token, else loopback only."""
    token = hub().settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not equals(given.strip(), token):
            raise Unauthorized("a metrics token is required: Authorization: Bearer <token>")
    elif request.remote_addr not in ("127.0.0.1", "::1"):
        raise Forbidden(
            "metrics are served to loopback only unless SESSIONHUB_METRICS_TOKEN is set"
        )
    return Response(exposition(hub()), mimetype=CONTENT_TYPE_LATEST)
