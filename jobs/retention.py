"""Retention: raw webhook bodies and sent outbound payloads are purged after a number of days.

A purged row stays: its dedupe key, provider, type, state and timestamps are kept, so a late
duplicate of the delivery is still recognised, and the delivery log still reads. Only the body
(and the signature headers that signed it) is replaced by a tombstone `{"purged": true, "at"}`.

The sweep walks rows in id order from a cursor kept in kv_state and stops at the first row
younger than the retention; each batch is one short transaction. A row still in flight (a
delivery `received` with attempts left or `waiting`, a message `pending`) is skipped and holds
the cursor back until it settles (the other sweeps settle them within days), so nothing is
purged before it was used. Every row at or below the cursor has a tombstone body: the personal
data export and erasure only scan above it (app/people.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from sqlmodel import col, select

from app.db import iso, utcnow
from app.hub import Hub, hub
from app.kv import read_value, write_value
from app.models import OutboundMessage, WebhookDelivery
from app.people import (
    INBOX_CURSOR,
    OUTBOX_CURSOR,
    is_tombstone,
    tombstone_body,
    tombstone_headers,
)
from jobs.sweeps import MAX_ATTEMPTS

log = logging.getLogger(__name__)

#: rows per transaction
BATCH = 200
#: batches per run at most (a run stays short; the next one goes on)
MAX_BATCHES = 50


def purge_expired_bodies(batch: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Tombstone delivery bodies and outbound payloads older than the retention; rows purged."""
    h = hub()
    days = h.settings.delivery_retention_days
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    purged = _purge_inbox(h, cutoff, batch, max_batches)
    purged += _purge_outbox(h, cutoff, batch, max_batches)
    if purged:
        log.info("expired bodies purged", extra={"purged": purged, "retention_days": days})
    return purged


def _in_flight(row: WebhookDelivery) -> bool:
    return row.state == "waiting" or (row.state == "received" and row.attempts < MAX_ATTEMPTS)


def _purge_delivery(row: WebhookDelivery) -> str:
    if _in_flight(row):
        return "held"
    if is_tombstone(row.body):
        return "done"
    row.body = tombstone_body("purged")
    row.headers = tombstone_headers(dict(row.headers))
    return "purged"


def _purge_message(message: OutboundMessage) -> str:
    if message.state == "pending":
        return "held"
    if message.payload.get("purged") is True:
        return "done"
    message.payload = {"purged": True, "at": iso(utcnow())}
    return "purged"


def _purge_inbox(h: Hub, cutoff: datetime, batch: int, max_batches: int) -> int:
    return _walk(
        h,
        WebhookDelivery,
        WebhookDelivery.received_at,
        INBOX_CURSOR,
        _purge_delivery,
        cutoff,
        batch,
        max_batches,
    )


def _purge_outbox(h: Hub, cutoff: datetime, batch: int, max_batches: int) -> int:
    return _walk(
        h,
        OutboundMessage,
        OutboundMessage.created_at,
        OUTBOX_CURSOR,
        _purge_message,
        cutoff,
        batch,
        max_batches,
    )


def _walk(
    h: Hub,
    model: Any,
    stamp: Any,
    cursor_key: str,
    purge: Callable[[Any], str],
    cutoff: datetime,
    batch: int,
    max_batches: int,
) -> int:
    """Walk `model` by id from its cursor while rows are older than `cutoff`, in short
    transactions; `purge(row)` answers "purged", "done" (already a tombstone) or "held" (still
    in flight: the cursor stays before it so a later run comes back)."""
    with h.db.session() as db:
        cursor = int(read_value(db, cursor_key) or 0)
    start = position = cursor
    held, purged = False, 0
    for _ in range(max_batches):
        with h.db.session() as db:
            heads = list(
                db.exec(
                    select(model.id, stamp)
                    .where(col(model.id) > position)
                    .order_by(col(model.id))
                    .limit(batch)
                )
            )
            ids = [r[0] for r in takewhile(lambda r: r[1] < cutoff, heads)]  # stop at a young one
            rows = {r.id: r for r in db.exec(select(model).where(col(model.id).in_(ids)))}
            for row_id in ids:
                row = rows.get(row_id)
                outcome = "done" if row is None else purge(row)  # None: deleted meanwhile
                if outcome == "held":
                    held = True
                elif outcome == "purged":
                    db.add(row)
                    purged += 1
                if not held:
                    cursor = row_id or cursor
            if ids:
                position = ids[-1] or position
            if cursor != start:
                write_value(db, cursor_key, str(cursor))
                start = cursor
        if len(ids) < len(heads) or len(heads) < batch:
            break  # reached the retention window, or the end
    return purged
