"""Calendar channels and links: renew push channels, stop stray ones, unlink an account."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import timedelta

from sqlmodel import col, delete, select

from app.calendars import NotConnected, api_for, calendar_connector
from app.db import utcnow
from app.hub import hub
from app.models import BusyInterval, CalendarConnection, CalendarFeed, ProviderLink, Session
from connectors.base import LinkState, Outbound, SessionView
from connectors.errors import AuthError
from jobs.calendars import provider_of

log = logging.getLogger(__name__)

#: requested channel lifetime (providers may grant less; the response is what counts)
CHANNEL_TTL = timedelta(days=7)


def renew_channels(connection_id: str | None = None) -> int:
    """Open channels for feeds without one, and replace those expiring soon (new, then stop)."""
    h = hub()
    with h.db.session() as db:
        query = (
            select(CalendarFeed, CalendarConnection)
            .join(CalendarConnection, col(CalendarConnection.id) == CalendarFeed.connection_id)
            .where(CalendarConnection.state == "active")
        )
        if connection_id:
            query = query.where(CalendarConnection.id == uuid.UUID(connection_id))
        rows = [
            (f, c.id)
            for f, c in db.exec(query)
            if f.channel_expires_at is None
            or f.channel_expires_at < utcnow() + _renew_before(c.provider)
        ]
    renewed = 0
    address = f"{h.settings.public_url}/webhooks/{{provider}}"
    for feed, cid in rows:
        try:
            api = api_for(h, cid)
            token = secrets.token_urlsafe(32)
            channel = api.watch(
                feed.calendar_id,
                str(uuid.uuid4()),
                token,
                address.format(provider=provider_of(h, cid)),
                utcnow() + CHANNEL_TTL,
            )
        except (NotConnected, AuthError) as err:
            log.warning("channel not renewed", extra={"feed_id": str(feed.id), "reason": str(err)})
            continue
        old = (feed.channel_id, feed.channel_resource_id)
        with h.db.session() as db:
            row = db.get(CalendarFeed, feed.id)
            if row is None:
                continue
            row.channel_id, row.channel_resource_id = channel.id, channel.resource_id
            row.channel_token_encrypted = h.crypto.encrypt(token)
            row.channel_expires_at = channel.expires_at
            db.add(row)
        if old[0] and old[1]:
            try:
                api.stop(old[0], old[1])
            except Exception:  # noqa: BLE001 - the old channel expires anyway
                log.info("old channel not stopped", extra={"feed_id": str(feed.id)})
        renewed += 1
    return renewed


def stop_channel(provider: str, channel_id: str, resource_id: str) -> str:
    """Stop a channel the hub no longer knows (replaced or unlinked), when it can."""
    h = hub()
    with h.db.session() as db:
        if db.exec(select(CalendarFeed).where(CalendarFeed.channel_id == channel_id)).first():
            return "known"  # recorded since the push came: it is a live channel of ours
        feed = db.exec(
            select(CalendarFeed).where(CalendarFeed.channel_resource_id == resource_id)
        ).first()
        cid = feed.connection_id if feed else None
    if cid is None:
        return "unknown"  # nobody's credentials can stop it; it expires on its own
    try:
        api_for(h, cid).stop(channel_id, resource_id)
    except (NotConnected, AuthError):
        return "not_connected"
    return "stopped"


def sync_all() -> int:
    """Queue a sync of every active connection (pushes are not reliable on their own)."""
    h = hub()
    with h.db.session() as db:
        ids = list(
            db.exec(select(CalendarConnection.id).where(CalendarConnection.state == "active"))
        )
    return sum(
        1
        for cid in ids
        if h.enqueue(f"sync-calendar:{cid}", "jobs.calendars.sync_calendar", str(cid))
    )


def unlink(connection_id: str, delete_events: bool = True) -> str:
    """Stop channels, remove (or keep) the hub's events, revoke the grant, forget busy time."""
    from app.calendars import fresh_tokens, oauth_for

    h, cid = hub(), uuid.UUID(connection_id)
    provider = provider_of(h, cid)
    try:
        api = api_for(h, cid)
        tokens = fresh_tokens(h, cid)
    except (NotConnected, AuthError):
        api, tokens = None, None
    with h.db.session() as db:
        conn = db.get(CalendarConnection, cid)
        if conn is None:
            return "missing"
        feeds = list(db.exec(select(CalendarFeed).where(CalendarFeed.connection_id == cid)))
        links = list(
            db.exec(
                select(ProviderLink)
                .join(Session, col(Session.id) == ProviderLink.session_id)
                .where(
                    Session.coach_id == conn.coach_id,
                    ProviderLink.provider == provider,
                    ProviderLink.active,
                    col(ProviderLink.external_id).is_not(None),
                )
            )
        )
        calendar, options = conn.destination_calendar or "primary", conn.options
    if api is not None:
        for feed in feeds:
            if feed.channel_id and feed.channel_resource_id:
                try:
                    api.stop(feed.channel_id, feed.channel_resource_id)
                except Exception:  # noqa: BLE001 - best effort: channels expire anyway
                    log.info("channel not stopped on unlink", extra={"feed_id": str(feed.id)})
        if delete_events:
            writer = api.writer(calendar, options)
            for link in links:
                if not link.data.get("deleted"):
                    _delete_quietly(writer, link)
    oauth = oauth_for(h, provider)
    if oauth is not None and tokens is not None:
        oauth.revoke(tokens)
    with h.db.session() as db:
        for feed in feeds:
            db.exec(delete(BusyInterval).where(col(BusyInterval.feed_id) == feed.id))
            row = db.get(CalendarFeed, feed.id)
            if row is not None:
                row.channel_id = row.channel_resource_id = row.channel_token_encrypted = None
                row.cursor = None
                db.add(row)
        if delete_events:
            for link in links:
                row_link = db.get(ProviderLink, link.id)
                if row_link is not None:
                    row_link.data = {**row_link.data, "deleted": True}
                    db.add(row_link)
        conn = db.get(CalendarConnection, cid)
        if conn is not None:
            conn.state, conn.tokens_encrypted, conn.updated_at = "revoked", None, utcnow()
            db.add(conn)
    return "unlinked"


def _delete_quietly(writer: Outbound, link: ProviderLink) -> None:
    view = SessionView(
        id=str(link.session_id),
        version=0,
        status="cancelled",
        title="",
        start_at=utcnow(),
        end_at=utcnow(),
        timezone="UTC",
        kind="video",
        coach_email="",
        coach_name="",
        attendee_email="",
        attendee_name="",
    )
    try:
        writer.delete(view, LinkState(link.external_id, link.remote_version, 0, dict(link.data)))
    except Exception:  # noqa: BLE001 - one failed delete must not stop the unlink
        log.warning("event not deleted on unlink", extra={"session_id": str(link.session_id)})


def _renew_before(provider: str) -> timedelta:
    connector = calendar_connector(provider)
    return connector.channel_renew_before if connector else timedelta(hours=24)


def lifecycle(feed_id: str, event: str) -> str:
    """Act on a Graph lifecycle notification for one feed's subscription."""
    h, fid = hub(), uuid.UUID(feed_id)
    with h.db.session() as db:
        feed = db.get(CalendarFeed, fid)
        if feed is None:
            return "missing"
        cid, channel_id = feed.connection_id, feed.channel_id
        if event == "subscriptionRemoved":  # Graph dropped it: open a new one, then catch up
            feed.channel_id = feed.channel_resource_id = feed.channel_token_encrypted = None
            feed.channel_expires_at = None
        if event in ("subscriptionRemoved", "missed"):  # notifications were lost: read it all
            feed.cursor = None
        db.add(feed)
    if event == "reauthorizationRequired" and channel_id:
        try:
            api = api_for(h, cid)  # refreshes the token first if it is about to expire
            reauthorize = getattr(api, "reauthorize", None)
            if reauthorize is not None:
                reauthorize(channel_id)
                return "reauthorized"
        except (NotConnected, AuthError) as err:
            log.warning(
                "subscription not reauthorized", extra={"feed_id": feed_id, "reason": str(err)}
            )
            return "not_connected"
    if event == "subscriptionRemoved":
        renew_channels(str(cid))
    h.enqueue(f"sync-calendar:{cid}", "jobs.calendars.sync_calendar", str(cid))
    return event
