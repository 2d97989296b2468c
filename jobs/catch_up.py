"""Catch-up for providers that deliver at most once: Cal.com bookings updated since a cursor.

Cal.com does not retry failed webhooks (providers.md §1.1), so every period the sweep lists
the bookings updated since the last cursor and feeds them through the same mapping and domain
path as webhooks. A booking seen through both paths changes the session once: the second
sighting finds nothing to change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

from app.db import utcnow
from app.domain.sessions import apply_change
from app.errors import HubError
from app.hub import hub
from app.inbox import store_delivery
from app.kv import read_value, write_value
from app.sync import dispatch, plan
from app.tally import tally
from connectors.calcom.client import CalcomClient
from connectors.calcom.mapping import booking_to_change
from connectors.errors import AuthError, InvalidPayload

log = logging.getLogger(__name__)

#: how far back the first run looks, and how much each run re-reads for clock skew
FIRST_LOOKBACK = timedelta(days=1)
OVERLAP = timedelta(minutes=2)


def _cursor_name(api_key: str) -> str:
    # the key itself never lands in the database: a short digest names its cursor
    return "calcom:catch_up:" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def calcom_catch_up() -> int:
    """Apply every Cal.com booking change the webhooks missed; returns sessions changed."""
    h = hub()
    keys = [k.strip() for k in h.settings.api_keys.get("calcom", "").split(",") if k.strip()]
    changed = 0
    for api_key in keys:
        changed += _catch_up_one(
            CalcomClient(api_key, h.settings.api_url("calcom")), _cursor_name(api_key)
        )
    return changed


def _catch_up_one(client: CalcomClient, cursor_name: str) -> int:
    h = hub()
    with h.db.session() as db:
        raw = read_value(db, cursor_name)
    since = datetime.fromisoformat(raw) - OVERLAP if raw else utcnow() - FIRST_LOOKBACK
    newest, changed, failed = since, 0, 0
    try:
        for booking in client.list_bookings(after_updated_at=since):
            try:
                change = booking_to_change(booking)
            except InvalidPayload as err:
                failed += 1
                log.warning("catch-up skipped a booking", extra={"reason": err.reason})
                continue
            if change is None:
                continue
            try:
                with h.db.session() as db:
                    applied = apply_change(db, change)
                    providers = plan(db, h, applied)
                dispatch(h, applied.session_id, providers)
            except HubError as err:
                failed += 1
                log.warning(
                    "catch-up change refused", extra={"provider": "calcom", "reason": err.message}
                )
                continue
            newest = max(newest, change.occurred_at)
            if applied.changed:
                changed += 1
                tally(h.db.engine, "calcom", "drift")
                log.info(
                    "catch-up repaired a missed change",
                    extra={
                        "provider": "calcom",
                        "session_id": str(applied.session_id),
                        "version": applied.version,
                    },
                )
    except AuthError:
        log.error(
            "Cal.com refused the API key; catch-up paused until it is fixed",
            extra={"provider": "calcom"},
        )
        return changed
    finally:
        if newest > since:
            with h.db.session() as db:
                write_value(db, cursor_name, newest.isoformat())
    log.info("calcom catch-up done", extra={"changed": changed, "failed": failed})
    return changed


#: Stripe retries failed deliveries for three days; the sweep covers the same window
STRIPE_WINDOW = timedelta(days=3)


def stripe_recovery() -> int:
    """Put the Stripe events Stripe could not deliver into the inbox; returns how many were new.

    They go through the same inbox, dedupe key (`evt:<id>`) and ingestion as webhooks, so an
    event both delivered and recovered is processed once.
    """
    from connectors.stripe.client import StripeClient

    h = hub()
    api_key = h.settings.api_keys.get("stripe")
    if not api_key:
        return 0
    client = StripeClient(api_key, h.settings.api_url("stripe"))
    new = 0
    try:
        for event in client.list_events(
            created_gte=utcnow() - STRIPE_WINDOW, delivery_success=False
        ):
            event_id, event_type = event.get("id"), event.get("type")
            if not isinstance(event_id, str) or not isinstance(event_type, str):
                continue
            raw = json.dumps(event, separators=(",", ":")).encode()
            delivery_id, created = store_delivery(
                h.db.engine,
                "stripe",
                f"evt:{event_id}",
                event_type,
                {"content-type": "application/json", "x-sessionhub-recovered": "stripe-api"},
                raw,
            )
            if created:
                new += 1
                tally(h.db.engine, "stripe", "drift")
                h.enqueue(f"ingest:{delivery_id}", "jobs.ingest.ingest_delivery", delivery_id)
    except AuthError:
        log.error("Stripe refused the API key; recovery paused", extra={"provider": "stripe"})
    if new:
        log.info("stripe events recovered", extra={"provider": "stripe", "count": new})
    return new
