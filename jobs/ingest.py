"""`ingest_delivery`: a stored delivery → canonical changes applied to sessions."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as Db
from sqlmodel import col, select

import connectors
from app.db import utcnow
from app.domain.links import find_link
from app.domain.sessions import Applied, apply_change
from app.errors import HubError, SessionNotFound
from app.hub import Hub, hub
from app.metrics import INGEST_SECONDS
from app.models import WebhookDelivery
from app.people import is_tombstone
from app.sync import Planned, dispatch, plan
from connectors.base import Change, Connector, LinkState
from connectors.errors import InvalidPayload, TransientError
from connectors.limits import check_change

log = logging.getLogger(__name__)


def ingest_delivery(delivery_id: int, replay: bool = False) -> str:
    """Parse one delivery and apply its changes; returns the delivery's final state."""
    h = hub()
    with h.db.session() as db:
        delivery = db.get(WebhookDelivery, delivery_id)
        if delivery is None:
            log.warning("delivery vanished", extra={"delivery_id": delivery_id})
            return "missing"
        if delivery.state in ("processed", "ignored") and not replay:
            return delivery.state
        if is_tombstone(delivery.body):  # purged by retention or erased: nothing to parse
            log.warning("delivery body is gone, not ingested", extra={"delivery_id": delivery_id})
            return delivery.state
        delivery.attempts += 1
        provider, raw, headers = delivery.provider, delivery.body, dict(delivery.headers)
    ctx = {"provider": provider, "delivery_id": delivery_id}

    connector = connectors.get(provider)
    if connector is None:
        return _finish(delivery_id, "failed", f"no connector for provider {provider!r}")
    try:
        event = connector.parse(raw, headers)
        for change in event.changes:
            check_change(change)  # what the tables cannot hold fails here, not in the database
    except InvalidPayload as err:
        log.warning("delivery cannot be parsed", extra={**ctx, "reason": err.reason})
        return _finish(delivery_id, "failed", f"invalid payload: {err.reason}")
    if not event.changes:
        return _finish(delivery_id, "ignored", f"{event.event_type} is not used by the hub")

    results: list[Applied] = []
    to_sync: list[tuple[Applied, Planned]] = []
    try:
        with h.db.session() as db:
            for change in event.changes:
                if _is_echo(db, connector, change):
                    log.info("echo of our own write dropped", extra=ctx)
                    continue
                applied = apply_change(db, change)
                results.append(applied)
                to_sync.append((applied, plan(db, h, applied)))
            row = db.get(WebhookDelivery, delivery_id)
            if row is not None:
                row.state, row.processed_at, row.last_error = "processed", utcnow(), None
                INGEST_SECONDS.labels(provider).observe(
                    (row.processed_at - row.received_at).total_seconds()
                )
                row.session_id = results[-1].session_id if results else None
                db.add(row)
    except IntegrityError as err:
        # two deliveries created the same session at once: the retry finds it
        raise TransientError("concurrent change to the same session, retrying") from err
    except SessionNotFound as err:
        if connector.waits_for_session:
            log.info("delivery waits for its session", extra=ctx)
            return _finish(delivery_id, "waiting", f"waiting for its session: {err.message}")
        return _finish(delivery_id, "failed", err.message)
    except HubError as err:
        log.warning("change refused", extra={**ctx, "reason": err.message})
        return _finish(delivery_id, "failed", f"{err.code}: {err.message}")
    for applied, providers in to_sync:
        dispatch(h, applied.session_id, providers)
    if results and _anything_waiting(h):
        h.enqueue("retry-waiting", "jobs.ingest.retry_waiting")
    for applied in results:
        log.info(
            "change applied",
            extra={
                **ctx,
                "session_id": str(applied.session_id),
                "version": applied.version,
                "changed": applied.changed,
                "stale": applied.stale,
            },
        )
    return "processed"


def _is_echo(db: Db, connector: Connector, change: Change) -> bool:
    if change.remote_version is None or not change.external_id:
        return False
    link = find_link(db, change.source, change.external_id)
    if link is None:
        return False
    state = LinkState(link.external_id, link.remote_version, link.synced_version, dict(link.data))
    return connector.is_echo(change, state)


#: characters of a recorded reason; it may quote the payload (an unknown event type)
MAX_REASON = 2000


def _finish(delivery_id: int, state: str, error: str | None) -> str:
    if error is not None:  # PostgreSQL text refuses NUL; a quoted payload may carry one
        error = error.replace("\x00", "\ufffd")[:MAX_REASON]
    with hub().db.session() as db:
        row = db.get(WebhookDelivery, delivery_id)
        if row is not None:
            row.state, row.last_error, row.processed_at = state, error, utcnow()
            db.add(row)
    return state


#: how long a delivery may wait for its session (Stripe retries for three days too)
WAIT_LIMIT = timedelta(days=3)


def _anything_waiting(h: Hub) -> bool:
    with h.db.session() as db:
        return (
            db.exec(
                select(WebhookDelivery.id).where(WebhookDelivery.state == "waiting").limit(1)
            ).first()
            is not None
        )


def retry_waiting(batch: int = 500) -> int:
    """Re-run deliveries waiting for their session; give up on those older than the limit."""
    h = hub()
    cutoff = utcnow() - WAIT_LIMIT
    with h.db.session() as db:
        rows = list(
            db.exec(
                select(WebhookDelivery.id, WebhookDelivery.received_at)
                .where(WebhookDelivery.state == "waiting")
                .order_by(col(WebhookDelivery.id))
                .limit(batch)
            )
        )
    queued = 0
    for delivery_id, received_at in rows:
        assert delivery_id is not None  # noqa: S101 - primary keys are set
        if received_at < cutoff:
            _finish(delivery_id, "failed", "no session appeared within 3 days")
        elif h.enqueue(f"ingest:{delivery_id}", "jobs.ingest.ingest_delivery", delivery_id):
            queued += 1
    return queued
