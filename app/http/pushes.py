"""Calendar pushes: authenticate each item by its channel's secret, mark feeds dirty, queue syncs.

A push carries no change, only "something changed on channel X", so the durable fact stored
before answering is the feed's dirty mark; the sync job reads the provider's change feed.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify
from sqlmodel import select

from app.db import utcnow
from app.errors import Unauthorized, ValidationFailed
from app.hub import Hub
from app.models import CalendarFeed
from connectors.calendar import CalendarConnector
from connectors.errors import InvalidPayload
from connectors.signing import equals

log = logging.getLogger(__name__)


def receive_push(
    h: Hub,
    slug: str,
    connector: CalendarConnector,
    headers: dict[str, str],
    raw: bytes,
    status: int,
) -> tuple[Response, int]:
    """Handle one push request of a calendar provider."""
    try:
        items = connector.push_items(headers, raw)
    except InvalidPayload as err:
        raise ValidationFailed(f"push not understood: {err.reason}", field="body") from err
    accepted, rejected, unknown = 0, 0, 0
    to_sync: set[str] = set()
    stops: list[tuple[str, str]] = []
    lifecycles: list[tuple[str, str]] = []
    with h.db.session() as db:
        for item in items:
            feed = db.exec(
                select(CalendarFeed).where(CalendarFeed.channel_id == item.channel_id)
            ).first()
            if feed is None:
                unknown += 1
                # a "sync" handshake can outrun the watch call that opened the channel: it
                # is not a stray channel (yet); the stop job re-checks before stopping anyway
                if item.resource_id and item.state != "sync":
                    stops.append((item.channel_id, item.resource_id))
                continue
            secret = (
                h.crypto.decrypt(feed.channel_token_encrypted or "")
                if feed.channel_token_encrypted
                else ""
            )
            if not item.token or not secret or not equals(secret, item.token):
                rejected += 1
                continue
            accepted += 1
            if item.state == "sync":
                continue
            if item.state.startswith("lifecycle:"):
                event = item.state.split(":", 1)[1]
                lifecycles.append((str(feed.id), event))
                continue
            if feed.dirty_since is None:
                feed.dirty_since = utcnow()
                db.add(feed)
            to_sync.add(str(feed.connection_id))
    if rejected and not accepted and not unknown:
        log.warning("push rejected", extra={"provider": slug, "items": rejected})
        raise Unauthorized("channel token does not match", code="invalid_signature")
    for cid in sorted(to_sync):
        h.enqueue(f"sync-calendar:{cid}", "jobs.calendars.sync_calendar", cid)
    for feed_id, event in lifecycles:
        h.enqueue(f"lifecycle:{feed_id}:{event}", "jobs.channels.lifecycle", feed_id, event)
    for channel_id, resource_id in stops:
        h.enqueue(
            f"stop-channel:{channel_id}",
            "jobs.channels.stop_channel",
            slug,
            channel_id,
            resource_id,
        )
    body = {"status": "accepted", "items": accepted, "rejected": rejected, "unknown": unknown}
    return jsonify(body), status
