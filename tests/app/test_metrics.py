"""/metrics: Prometheus text, parsed back; protected by a token or served to loopback only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AppFactory, drain
from tests.testhook import TestHook, event, registered, sign


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def scrape(
    client: FlaskClient, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.data
    assert resp.content_type.startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.get_data(as_text=True))
        for s in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counts_deliveries_jobs_and_reads_gauges(app: Flask, client: FlaskClient) -> None:
    before = scrape(client)
    body = event(status="requested")  # no reminders: the queue empties
    for _ in range(2):
        client.post("/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new"))
    client.post("/webhooks/testhook", data=body, headers=sign(body, "wrong"))
    waiting = scrape(client)
    assert value(waiting, "sessionhub_queue_depth") == 1
    assert value(waiting, "sessionhub_deliveries_by_state", state="received") == 1
    drain(app)
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        grew(
            "sessionhub_deliveries_total",
            provider="testhook",
            event_type="booking.upsert",
            outcome="accepted",
        )
        == 1
    )
    assert (
        grew(
            "sessionhub_deliveries_total",
            provider="testhook",
            event_type="booking.upsert",
            outcome="duplicate",
        )
        == 1
    )
    assert (
        grew(
            "sessionhub_verification_failures_total",
            provider="testhook",
            reason="signature does not match",
        )
        == 1
    )
    assert grew("sessionhub_jobs_total", job="ingest", outcome="ok") == 1
    assert grew("sessionhub_ingest_seconds_count", provider="testhook") == 1
    assert value(after, "sessionhub_queue_depth") == 0
    assert value(after, "sessionhub_deliveries_by_state", state="processed") == 1


def test_protected_by_token_or_loopback(make_app: AppFactory, db_url: str) -> None:
    open_app = make_app(db_url)
    remote = open_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 403
    locked = make_app(db_url, metrics_token="scrape-me").test_client()
    assert locked.get("/metrics").status_code == 401
    assert locked.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = locked.get(
        "/metrics",
        headers={"Authorization": "Bearer scrape-me"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert ok.status_code == 200
