"""Probes."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import AppFactory


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_each_dependency(client: FlaskClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 200
    checks = resp.json["checks"]
    assert checks["database"]["ok"]
    assert checks["queue"]["ok"]
    assert checks["queue"]["backend"] == "in-process"
    assert isinstance(checks["database"]["ms"], float | int)


def test_readyz_503_when_redis_is_down(make_app: AppFactory, db_url: str) -> None:
    app = make_app(db_url, "redis://127.0.0.1:1/0")
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.json["checks"]["queue"]["ok"] is False
    assert resp.json["checks"]["database"]["ok"] is True
