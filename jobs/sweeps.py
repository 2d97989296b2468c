"""Periodic sweeps: re-enqueue stuck deliveries (more join with their issues)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import col, select

from app.config import Settings
from app.db import utcnow
from app.hub import hub
from app.models import CalendarFeed, ProviderLink, WebhookDelivery

log = logging.getLogger(__name__)

#: a delivery that failed this many times stays for the dead-letter list, not the sweep
MAX_ATTEMPTS = 10


def requeue_stuck_deliveries(batch: int = 500) -> int:
    """Enqueue deliveries left `received` for longer than the threshold (queue was down)."""
    h = hub()
    cutoff = utcnow() - timedelta(seconds=h.settings.stuck_after_seconds)
    with h.db.session() as db:
        ids = list(
            db.exec(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.state == "received",
                    WebhookDelivery.received_at < cutoff,
                    WebhookDelivery.attempts < MAX_ATTEMPTS,
                )
                .order_by(col(WebhookDelivery.id))
                .limit(batch)
            )
        )
    queued = sum(
        1
        for i in ids
        if i is not None and h.enqueue(f"ingest:{i}", "jobs.ingest.ingest_delivery", i)
    )
    if ids:
        log.info("stuck deliveries re-enqueued", extra={"found": len(ids), "queued": queued})
    return queued


def requeue_pending_links(batch: int = 500) -> int:
    """Enqueue reconciliation for links left pending (their job was lost or the queue was down)."""
    h = hub()
    cutoff = utcnow() - timedelta(seconds=h.settings.stuck_after_seconds)
    with h.db.session() as db:
        rows = list(
            db.exec(
                select(ProviderLink.session_id, ProviderLink.provider)
                .where(
                    ProviderLink.state == "pending",
                    ProviderLink.active,
                    ProviderLink.updated_at < cutoff,
                    col(ProviderLink.provider).in_(h.writable),
                )
                .order_by(col(ProviderLink.updated_at))
                .limit(batch)
            )
        )
    queued = sum(
        1
        for session_id, provider in rows
        if h.enqueue(
            f"reconcile:{provider}:{session_id}",
            "jobs.reconcile.reconcile",
            str(session_id),
            provider,
        )
    )
    if rows:
        log.info("pending links re-enqueued", extra={"found": len(rows), "queued": queued})
    return queued


def requeue_dirty_feeds(batch: int = 500) -> int:
    """Queue a sync for calendars a push marked changed that no sync has read (queue was down)."""
    h = hub()
    cutoff = utcnow() - timedelta(seconds=h.settings.stuck_after_seconds)
    with h.db.session() as db:
        ids = set(
            db.exec(
                select(CalendarFeed.connection_id)
                .where(col(CalendarFeed.dirty_since) < cutoff)
                .limit(batch)
            )
        )
    return sum(
        1
        for cid in ids
        if h.enqueue(f"sync-calendar:{cid}", "jobs.calendars.sync_calendar", str(cid))
    )


def schedule(settings: Settings) -> dict[str, int]:
    """Every sweep and how often it runs (seconds)."""
    sweeps = {
        "jobs.sweeps.requeue_stuck_deliveries": settings.requeue_sweep_seconds,
        "jobs.sweeps.requeue_pending_links": settings.requeue_sweep_seconds,
        "jobs.ingest.retry_waiting": 600,
        "jobs.reminders.send_due_reminders": 60,
        "jobs.outbound.retry_due": 60,
    }
    if settings.delivery_retention_days:
        sweeps["jobs.retention.purge_expired_bodies"] = 3600
    if settings.oauth:
        sweeps["jobs.sweeps.requeue_dirty_feeds"] = settings.requeue_sweep_seconds
        sweeps["jobs.channels.sync_all"] = 600
        sweeps["jobs.channels.renew_channels"] = 3600
    if settings.api_keys.get("daily"):
        sweeps["jobs.attendance.daily_watchdog"] = 300
        sweeps["jobs.attendance.derive_attendance"] = 300
    if settings.api_keys.get("stripe"):
        sweeps["jobs.catch_up.stripe_recovery"] = 900
    if settings.api_keys.get("calcom"):
        sweeps["jobs.catch_up.calcom_catch_up"] = settings.calcom_sweep_minutes * 60
    return sweeps


def run_all() -> dict[str, int]:
    """Run every sweep once, now."""
    from app.queue import resolve

    return {name: int(resolve(name)() or 0) for name in schedule(hub().settings)}
