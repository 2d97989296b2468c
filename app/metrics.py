"""Prometheus metrics: counters and histograms where things happen, gauges read at scrape time.

Under gunicorn set PROMETHEUS_MULTIPROC_DIR (deploy/gunicorn.conf.py does): every process
writes its own files and /metrics aggregates them. Queue depth and connection states are read
when scraped, so they are never stale.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import func, select

from app.hub import Hub
from app.models import CONNECTION_STATES, CalendarConnection, WebhookDelivery
from connectors.http import PROVIDER_CALLS

DELIVERIES = Counter(
    "sessionhub_deliveries", "Webhook deliveries by outcome", ["provider", "event_type", "outcome"]
)
VERIFY_FAILURES = Counter(
    "sessionhub_verification_failures", "Deliveries refused at verification", ["provider", "reason"]
)
INGEST_SECONDS = Histogram(
    "sessionhub_ingest_seconds",
    "From receipt to processed",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOBS = Counter("sessionhub_jobs", "Job runs by outcome", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "sessionhub_job_seconds",
    "Job duration",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def job_name(key: str) -> str:
    """The kind of a job from its coalescing key (`reconcile:daily:<id>` → `reconcile`)."""
    return key.split(":", 1)[0]


class LiveGauges(Collector):
    """Gauges computed when scraped: queue depth, deliveries waiting, connections by state."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("sessionhub_queue_depth", "Jobs waiting in the queue")
        try:
            depth.add_metric([], float(self.hub.queue.depth()))
        except Exception:  # noqa: BLE001 - a dead queue reads as -1, the scrape still answers
            depth.add_metric([], -1.0)
        yield depth
        states = GaugeMetricFamily(
            "sessionhub_connections", "Calendar connections by state", labels=["provider", "state"]
        )
        pending = GaugeMetricFamily(
            "sessionhub_deliveries_by_state", "Stored deliveries by state", labels=["state"]
        )
        with self.hub.db.session() as db:
            counts = {
                (p, s): n
                for p, s, n in db.exec(
                    select(
                        CalendarConnection.provider, CalendarConnection.state, func.count()
                    ).group_by(CalendarConnection.provider, CalendarConnection.state)
                )
            }
            by_state = dict(
                db.exec(
                    select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
                ).all()
            )
        for provider in sorted({p for p, _ in counts}):
            for state in CONNECTION_STATES:
                states.add_metric([provider, state], float(counts.get((provider, state), 0)))
        yield states
        for state, n in sorted(by_state.items()):
            pending.add_metric([state], float(n))
        yield pending


def exposition(hub: Hub) -> bytes:
    """The text exposition of every metric (all processes under gunicorn)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:  # one process: our own metrics straight from memory
        for collector in (
            DELIVERIES,
            VERIFY_FAILURES,
            INGEST_SECONDS,
            JOBS,
            JOB_SECONDS,
            PROVIDER_CALLS,
        ):
            registry.register(collector)
    registry.register(LiveGauges(hub))
    return generate_latest(registry)
