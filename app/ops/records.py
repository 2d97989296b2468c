"""The ops dashboard's lists and records: deliveries, sessions, connections, the sign-in key.

Keyset pages of a few dozen rows over indexed columns; a delivery list never loads bodies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session as Db
from sqlmodel import col, select

from app.db import utcnow
from app.kv import read_value
from app.models import (
    ApiKey,
    CalendarConnection,
    CalendarFeed,
    Coach,
    ProviderLink,
    Session,
    SessionEvent,
    WebhookDelivery,
)
from app.ops.overview import DAY, PAGE, WEEK

_D = WebhookDelivery


# --- deliveries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryFilter:
    """What the deliveries page searches by (all optional)."""

    provider: str | None = None
    state: str | None = None
    event_type: str | None = None
    day: date | None = None
    session_id: uuid.UUID | None = None
    before: int | None = None


_LIST_COLUMNS = tuple(
    col(c)
    for c in (
        _D.id,
        _D.provider,
        _D.event_type,
        _D.state,
        _D.attempts,
        _D.received_at,
        _D.processed_at,
        _D.session_id,
        _D.last_error,
    )
)


def search_deliveries(
    db: Db, where: DeliveryFilter, size: int = PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of deliveries, newest first (never their bodies); and the cursor of the next."""
    query = sa_select(*_LIST_COLUMNS)
    if where.provider:
        query = query.where(col(_D.provider) == where.provider)
    if where.state:
        query = query.where(col(_D.state) == where.state)
    if where.event_type:
        query = query.where(col(_D.event_type).startswith(where.event_type, autoescape=True))
    if where.day:
        start = datetime(where.day.year, where.day.month, where.day.day, tzinfo=UTC)
        query = query.where(col(_D.received_at) >= start, col(_D.received_at) < start + DAY)
    if where.session_id:
        query = query.where(col(_D.session_id) == where.session_id)
    if where.before:
        query = query.where(col(_D.id) < where.before)
    rows = [
        dict(
            zip(
                (
                    "id",
                    "provider",
                    "event_type",
                    "state",
                    "attempts",
                    "received_at",
                    "processed_at",
                    "session_id",
                    "last_error",
                ),
                r,
                strict=True,
            )
        )
        for r in db.connection().execute(query.order_by(col(_D.id).desc()).limit(size + 1))
    ]
    page = rows[:size]
    return page, (page[-1]["id"] if len(rows) > size else None)


def event_types(db: Db, now: datetime | None = None) -> list[str]:
    """Event types seen in the last week (for the search form)."""
    now = now or utcnow()
    return list(
        db.exec(
            select(_D.event_type)
            .where(col(_D.received_at) >= now - WEEK)
            .group_by(_D.event_type)
            .order_by(_D.event_type)
            .limit(200)
        )
    )


# --- sessions -----------------------------------------------------------------------------


def find_sessions(db: Db, q: str, size: int = PAGE) -> list[Session]:
    """Sessions by id, by any provider id they ever had (Cal.com uid, room…), or by e-mail."""
    q = q.strip()
    if not q:
        return []
    try:
        sid = uuid.UUID(q)
    except ValueError:
        sid = None
    if sid is not None:
        found = db.get(Session, sid)
        if found is not None:
            return [found]
    if "@" in q:
        query = select(Session).where(
            or_(
                col(Session.attendee_email) == q.lower(),
                col(Session.attendee_email) == q,
                col(Session.coach_id).in_(select(Coach.id).where(Coach.email == q.lower())),
            )
        )
    else:
        query = select(Session).where(
            col(Session.id).in_(
                select(ProviderLink.session_id).where(ProviderLink.external_id == q)
            )
        )
    return list(db.exec(query.order_by(col(Session.start_at).desc()).limit(size)))


def session_detail(db: Db, sid: uuid.UUID, limit: int = 1000) -> dict[str, Any] | None:
    """A session, its coach, every provider link and its whole timeline (oldest first)."""
    session = db.get(Session, sid)
    if session is None:
        return None
    links = list(
        db.exec(
            select(ProviderLink)
            .where(ProviderLink.session_id == sid)
            .order_by(col(ProviderLink.created_at))
        )
    )
    events = list(
        db.exec(
            select(SessionEvent)
            .where(SessionEvent.session_id == sid)
            .order_by(col(SessionEvent.id))
            .limit(limit)
        )
    )
    deliveries, _ = search_deliveries(db, DeliveryFilter(session_id=sid), size=20)
    return {
        "session": session,
        "coach": db.get(Coach, session.coach_id),
        "links": links,
        "events": events,
        "deliveries": deliveries,
    }


# --- connections --------------------------------------------------------------------------


def connections(db: Db) -> list[dict[str, Any]]:
    """Every linked calendar with its coach, earliest channel expiry and sync health."""
    F = CalendarFeed
    feeds = {
        conn_id: (expires, synced, dirty, n)
        for conn_id, expires, synced, dirty, n in db.connection().execute(
            sa_select(
                col(F.connection_id),
                func.min(F.channel_expires_at),
                func.min(F.last_synced_at),
                func.min(F.dirty_since),
                func.count(),
            ).group_by(col(F.connection_id))
        )
    }
    out = []
    for conn, email, name in db.exec(
        select(CalendarConnection, Coach.email, Coach.name)
        .join(Coach, col(Coach.id) == CalendarConnection.coach_id)
        .order_by(
            case((col(CalendarConnection.state) == "active", 1), else_=0),
            col(CalendarConnection.provider),
            col(Coach.email),
        )
    ):
        expires, feed_synced, dirty, n = feeds.get(conn.id, (None, None, None, 0))
        out.append(
            {
                "connection": conn,
                "coach_email": email,
                "coach_name": name,
                "channel_expires_at": _aware(expires),
                "feed_synced_at": _aware(feed_synced),
                "dirty_since": _aware(dirty),
                "feeds": n,
            }
        )
    return out


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands aggregates back as text
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)  # noqa: S101 - min() of a timestamp column
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DailyWebhook:
    """What the watchdog last saw of the hub's Daily webhook."""

    watched: bool
    state: str | None
    ok_since: datetime | None

    @property
    def red(self) -> bool:
        """Daily's webhook is failing, missing or disabled."""
        return self.watched and self.state not in (None, "ACTIVE")


def daily_webhook(db: Db, watched: bool) -> DailyWebhook:
    """The Daily webhook state the watchdog keeps (`jobs.attendance.daily_watchdog`)."""
    from jobs.attendance import WATCH_OK_SINCE, WATCH_STATE  # the watchdog owns these names

    ok = read_value(db, WATCH_OK_SINCE)
    return DailyWebhook(
        watched, read_value(db, WATCH_STATE), datetime.fromisoformat(ok) if ok else None
    )


def connection_counts(db: Db) -> dict[str, int]:
    """Calendar connections by state."""
    return {
        state: int(n)
        for state, n in db.exec(
            select(CalendarConnection.state, func.count()).group_by(CalendarConnection.state)
        )
    }


def ops_key(db: Db, key_id: int) -> ApiKey | None:
    """The live API key with the `ops` scope behind a dashboard session, or None."""
    key = db.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None or "ops" not in (key.scopes or []):
        return None
    return key
