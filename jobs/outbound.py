"""`deliver`: one outbox message POSTed to its endpoint, signed the Standard Webhooks way."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlmodel import col, select
from standardwebhooks import Webhook

from app.db import utcnow
from app.hub import Hub, hub
from app.models import OutboundMessage, WebhookEndpoint
from app.outbox import DELIVER, job_key

log = logging.getLogger(__name__)

#: seconds before attempt 2, 3, …; then every RETRY_EVERY until the horizon
RETRY_SCHEDULE = (30, 120, 600, 1800, 3600)
RETRY_EVERY = 3 * 3600
#: a message not delivered this long after it was written is failed for good
HORIZON = timedelta(days=3)
TIMEOUT = 10.0
#: a claimed attempt blocks other runs this long (longer than the request can take)
LEASE = timedelta(seconds=120)
#: a job may run a little before its time (clock skew between processes)
EARLY = timedelta(seconds=5)
MAX_ERROR = 500


@dataclass(frozen=True)
class _Attempt:
    url: str
    secret: str
    msg_id: str
    body: str
    created_at: datetime


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones, with ±20 % jitter."""
    index = max(attempts, 1) - 1
    base = RETRY_SCHEDULE[index] if index < len(RETRY_SCHEDULE) else RETRY_EVERY
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def deliver(message_id: int) -> str:
    """Send one message once (when due and not delivered); returns its state afterwards."""
    h = hub()
    claimed = _claim(h, message_id)
    if isinstance(claimed, str):
        return claimed
    timestamp = utcnow()
    headers = {
        "webhook-id": claimed.msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(claimed.secret).sign(claimed.msg_id, timestamp, claimed.body),
        "Content-Type": "application/json",
    }
    status: int | None = None
    try:
        resp = requests.post(
            claimed.url,
            data=claimed.body.encode(),
            headers=headers,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        status = resp.status_code
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except requests.RequestException as err:
        error = f"{type(err).__name__}: {err}"[:MAX_ERROR]
    return _record(h, message_id, status, error, claimed.created_at)


def _claim(h: Hub, message_id: int) -> _Attempt | str:
    """Lock the message for one attempt, or the reason not to send it now."""
    now = utcnow()
    with h.db.session() as db:
        row = db.exec(
            select(OutboundMessage).where(OutboundMessage.id == message_id).with_for_update()
        ).first()
        if row is None:
            log.warning("outbound message vanished", extra={"message_id": message_id})
            return "missing"
        if row.state != "pending":
            return row.state
        if row.next_attempt_at is not None and row.next_attempt_at > now + EARLY:
            return "not_due"
        endpoint = db.get(WebhookEndpoint, row.endpoint_id)
        if endpoint is None or not endpoint.active:
            row.state, row.last_error = "failed", "the endpoint is disabled"
            db.add(row)
            return row.state
        row.next_attempt_at = now + LEASE
        db.add(row)
        secret = h.crypto.decrypt(endpoint.secret_encrypted)
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False)
        return _Attempt(endpoint.url, secret, row.msg_id, body, row.created_at)


def _record(
    h: Hub, message_id: int, status: int | None, error: str | None, created_at: datetime
) -> str:
    """Save the outcome of an attempt and schedule the next one when it failed."""
    now = utcnow()
    delay = 0.0
    with h.db.session() as db:
        row = db.get(OutboundMessage, message_id)
        if row is None:
            return "missing"
        row.attempts += 1
        row.last_status = status
        ctx = {
            "message_id": message_id,
            "endpoint_id": str(row.endpoint_id),
            "event_type": row.event_type,
            "status": status,
            "attempts": row.attempts,
        }
        if error is None:
            row.state, row.delivered_at, row.last_error = "delivered", now, None
            row.next_attempt_at = None
            log.info("outbound message delivered", extra=ctx)
        else:
            row.last_error = error
            delay = backoff(row.attempts)
            retry_at = now + timedelta(seconds=delay)
            if retry_at > created_at + HORIZON:
                row.state, row.next_attempt_at = "failed", None
                log.warning("outbound message failed for good", extra=ctx)
            else:
                row.next_attempt_at = retry_at
                log.info("outbound message will be retried", extra={**ctx, "retry_in": delay})
        db.add(row)
        state = row.state
    if state == "pending":
        h.enqueue(job_key(message_id), DELIVER, message_id, delay=delay)
    return state


def retry_due(batch: int = 500) -> int:
    """Enqueue pending messages whose next attempt is due (their delayed job was lost)."""
    h = hub()
    with h.db.session() as db:
        ids = list(
            db.exec(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.state == "pending",
                    col(OutboundMessage.next_attempt_at) <= utcnow(),
                )
                .order_by(col(OutboundMessage.next_attempt_at))
                .limit(batch)
            )
        )
    queued = sum(1 for i in ids if i is not None and h.enqueue(job_key(i), DELIVER, i))
    if ids:
        log.info("due outbound messages enqueued", extra={"found": len(ids), "queued": queued})
    return queued
