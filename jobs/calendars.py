"""Calendar jobs: set up a linked account, read its changes, renew its channels, unlink it.

`sync_calendar` is the only reader: pushes merely mark a feed dirty and queue it. For each
changed event: the hub's own write (same version marker) is an echo and ignored; a hub event
the coach moved reschedules the session (and that fans out to every other provider); a hub
event the coach deleted is flagged for review or cancels the session, by the coach's policy;
any other event is busy time. A failure while reading never cancels anything.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlmodel import Session as Db
from sqlmodel import col, delete, select

import connectors
from app.calendars import NotConnected, api_for, pending_links_of
from app.db import utcnow
from app.domain.links import find_link
from app.domain.sessions import apply_change
from app.errors import HubError
from app.hub import Hub, hub
from app.locks import connection_lock
from app.models import (
    BusyInterval,
    CalendarConnection,
    CalendarFeed,
    Coach,
    ProviderLink,
    Session,
    SessionEvent,
)
from app.sync import Planned, dispatch, plan
from connectors.base import Change, LinkState
from connectors.calendar import CalendarApi, CalendarEvent, SyncCursorExpired
from connectors.errors import AuthError

log = logging.getLogger(__name__)

#: the window a full sync reads, around now
PAST, FUTURE = timedelta(days=30), timedelta(days=365)


def setup_connection(connection_id: str) -> str:
    """After linking: learn the calendars, create feeds, open channels, read everything once."""
    h, cid = hub(), uuid.UUID(connection_id)
    try:
        api = api_for(h, cid)
        calendars = api.list_calendars()
    except (NotConnected, AuthError) as err:
        log.warning(
            "calendar setup stopped", extra={"connection_id": connection_id, "reason": str(err)}
        )
        return "not_connected"
    with h.db.session() as db:
        conn = db.get(CalendarConnection, cid)
        if conn is None:
            return "missing"
        conn.calendars = [
            {"id": c.id, "name": c.name, "primary": c.primary, "writable": c.writable}
            for c in calendars
        ]
        primary = next((c.id for c in calendars if c.primary), conn.account_email or "primary")
        conn.destination_calendar = conn.destination_calendar or primary
        conn.busy_calendars = conn.busy_calendars or [primary]
        db.add(conn)
        ensure_feeds(db, conn)
    for session_id in _pending(h, cid):
        dispatch(h, session_id, (provider_of(h, cid),))
    from jobs.channels import renew_channels

    renew_channels(connection_id)
    return sync_calendar(connection_id)


def ensure_feeds(db: Db, conn: CalendarConnection) -> None:
    """One feed per calendar the hub reads (destination and busy calendars)."""
    wanted = {c for c in [conn.destination_calendar, *conn.busy_calendars] if c}
    have = {
        f.calendar_id
        for f in db.exec(select(CalendarFeed).where(CalendarFeed.connection_id == conn.id))
    }
    for calendar_id in sorted(wanted - have):
        db.add(CalendarFeed(connection_id=conn.id, calendar_id=calendar_id))
    db.flush()


def sync_calendar(connection_id: str) -> str:
    """Read every change of every feed of a connection since its cursor."""
    h, cid = hub(), uuid.UUID(connection_id)
    try:
        api = api_for(h, cid)
    except (NotConnected, AuthError):
        return "not_connected"
    with connection_lock(h, cid):
        with h.db.session() as db:
            conn = db.get(CalendarConnection, cid)
            if conn is None:
                return "missing"
            coach = db.get(Coach, conn.coach_id)
            feeds = list(db.exec(select(CalendarFeed).where(CalendarFeed.connection_id == cid)))
            provider, busy = conn.provider, set(conn.busy_calendars)
        if coach is None:
            return "missing"
        changed = 0
        for feed in feeds:
            changed += _sync_feed(h, api, provider, coach, feed, feed.calendar_id in busy)
        with h.db.session() as db:
            conn = db.get(CalendarConnection, cid)
            if conn is not None:
                conn.last_synced_at, conn.last_error = utcnow(), None
                db.add(conn)
    return f"synced:{changed}"


def _sync_feed(
    h: Hub, api: CalendarApi, provider: str, coach: Coach, feed: CalendarFeed, counts_busy: bool
) -> int:
    now = utcnow()
    started = now
    try:
        page = api.changes(feed.calendar_id, feed.cursor, (now - PAST, now + FUTURE))
        full = feed.cursor is None
    except SyncCursorExpired:
        log.info(
            "sync cursor expired, reading the whole window again",
            extra={"provider": provider, "feed_id": str(feed.id)},
        )
        page = api.changes(feed.calendar_id, None, (now - PAST, now + FUTURE))
        full = True
    changed = 0
    after: list[tuple[uuid.UUID, Planned]] = []
    with h.db.session() as db:
        if full:  # a full read replaces what the feed said before
            db.exec(delete(BusyInterval).where(col(BusyInterval.feed_id) == feed.id))
        for event in page.events:
            changed += _apply_event(db, h, provider, coach, feed, event, counts_busy, after)
        row = db.get(CalendarFeed, feed.id)
        if row is not None:
            row.cursor = page.cursor
            row.last_synced_at, row.last_error = utcnow(), None
            if row.dirty_since is not None and row.dirty_since <= started:
                row.dirty_since = None
            db.add(row)
    for session_id, planned in after:  # after the commit: jobs read committed state
        dispatch(h, session_id, planned)
    return changed


def _apply_event(
    db: Db,
    h: Hub,
    provider: str,
    coach: Coach,
    feed: CalendarFeed,
    event: CalendarEvent,
    counts_busy: bool,
    after: list[tuple[uuid.UUID, Planned]],
) -> int:
    link = find_link(db, provider, event.id)
    if link is None:
        _busy(db, coach, feed, event, counts_busy)
        return 0
    connector = connectors.get(provider)
    state = LinkState(link.external_id, link.remote_version, link.synced_version, dict(link.data))
    if event.cancelled:
        if link.data.get("deleted"):
            return 0  # our own delete coming back
        return _deleted_by_coach(db, h, provider, coach, link.session_id, event, link, after)
    change = Change(
        source=provider,
        external_id=event.id,
        event="moved_in_calendar",
        occurred_at=event.updated or utcnow(),
        start_at=event.start_at,
        end_at=event.end_at,
        remote_version=event.etag,
    )
    if connector is not None and connector.is_echo(change, state):
        return 0
    session = db.get(Session, link.session_id)
    if session is None or (event.start_at, event.end_at) == (session.start_at, session.end_at):
        link.remote_version = event.etag  # edited, but nothing the session holds
        db.add(link)
        return 0
    try:
        applied = apply_change(db, change)
    except HubError as err:
        log.warning("calendar move refused", extra={"provider": provider, "reason": err.message})
        return 0
    after.append((applied.session_id, plan(db, h, applied)))  # dispatched after the commit
    link.remote_version = event.etag
    db.add(link)
    db.flush()
    return 1


def _deleted_by_coach(
    db: Db,
    h: Hub,
    provider: str,
    coach: Coach,
    session_id: uuid.UUID,
    event: CalendarEvent,
    link: ProviderLink,
    after: list[tuple[uuid.UUID, Planned]],
) -> int:
    link.data = {**link.data, "deleted": True, "deleted_by": "coach"}
    link.state = "synced"
    db.add(link)
    session = db.get(Session, session_id)
    if session is None or session.status in ("cancelled", "rejected"):
        return 0
    if coach.calendar_delete_policy == "cancel":
        applied = apply_change(
            db,
            Change(
                source=provider,
                external_id=event.id,
                event="deleted_in_calendar",
                occurred_at=event.updated or utcnow(),
                status="cancelled",
                cancelled_by="coach",
                cancellation_reason=f"deleted in the coach's {provider} calendar",
            ),
        )
        after.append((session_id, plan(db, h, applied)))
        return 1
    session.needs_review = True
    db.add(session)
    db.add(
        SessionEvent(
            session_id=session_id,
            kind="deleted_in_calendar",
            source=provider,
            actor="coach",
            version=session.version,
            data={"policy": "flag", "external_id": event.id},
        )
    )
    return 1


def _busy(db: Db, coach: Coach, feed: CalendarFeed, event: CalendarEvent, counts: bool) -> None:
    row = db.exec(
        select(BusyInterval).where(
            BusyInterval.feed_id == feed.id, BusyInterval.event_id == event.id
        )
    ).first()
    start, end = event.start_at, event.end_at
    if not (counts and event.busy and not event.cancelled) or start is None or end is None:
        if row is not None:
            db.delete(row)
        return
    row = row or BusyInterval(
        coach_id=coach.id,
        feed_id=feed.id,
        event_id=event.id,
        start_at=start,
        end_at=end,
    )
    row.start_at, row.end_at = start, end
    db.add(row)


def provider_of(h: Hub, connection_id: uuid.UUID) -> str:
    with h.db.session() as db:
        conn = db.get(CalendarConnection, connection_id)
        return conn.provider if conn else ""


def _pending(h: Hub, connection_id: uuid.UUID) -> list[uuid.UUID]:
    with h.db.session() as db:
        conn = db.get(CalendarConnection, connection_id)
        return pending_links_of(db, conn.coach_id, conn.provider) if conn else []
