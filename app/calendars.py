"""Linked calendars: OAuth per provider, tokens encrypted at rest, refresh under a lock."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session as Db
from sqlmodel import col, select

import connectors
from app.db import utcnow
from app.hub import Hub
from app.locks import connection_lock
from app.models import CalendarConnection, ProviderLink, Session
from app.outbox import dispatch_outbound, emit
from connectors.calendar import CalendarApi, CalendarConnector, OAuth, TokenSet
from connectors.errors import AuthError

log = logging.getLogger(__name__)

#: refresh this long before the access token expires
REFRESH_MARGIN = timedelta(minutes=2)


class NotConnected(Exception):  # noqa: N818 - reads as the state
    """The coach has no usable connection to that provider (none, or it needs re-linking)."""


def calendar_connector(provider: str) -> CalendarConnector | None:
    """The calendar side of a provider's connector, if it has one."""
    found = connectors.get(provider)
    return found if isinstance(found, CalendarConnector) else None


def oauth_for(hub: Hub, provider: str) -> OAuth | None:
    """The provider's OAuth flow, or None when the hub has no client id for it."""
    connector = calendar_connector(provider)
    settings = hub.settings.oauth.get(provider)
    if connector is None or not settings:
        return None
    return connector.oauth({**settings, "api_url": hub.settings.api_url(provider)})


def seal(hub: Hub, tokens: TokenSet) -> str:
    """Tokens as one encrypted string."""
    plain = json.dumps(
        {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
            "scopes": list(tokens.scopes),
            "extra": dict(tokens.extra),
        }
    )
    return hub.crypto.encrypt(plain)


def unseal(hub: Hub, sealed: str) -> TokenSet:
    """The tokens behind an encrypted string."""
    data: dict[str, Any] = json.loads(hub.crypto.decrypt(sealed))
    expires = data.get("expires_at")
    return TokenSet(
        data["access_token"],
        data.get("refresh_token"),
        datetime.fromisoformat(expires) if expires else None,
        tuple(data.get("scopes") or ()),
        data.get("extra") or {},
    )


def mark_needs_reauth(hub: Hub, connection_id: uuid.UUID, reason: str) -> None:
    """The grant was refused: park the connection until the coach links again."""
    outbound: list[int] = []
    with hub.db.session() as db:
        conn = db.get(CalendarConnection, connection_id)
        if conn is not None and conn.state not in ("revoked", "needs_reauth"):
            conn.state, conn.last_error, conn.updated_at = "needs_reauth", reason[:500], utcnow()
            db.add(conn)
            outbound = emit(
                db,
                "connection.needs_reauth",
                {
                    "connection_id": str(conn.id),
                    "coach_id": str(conn.coach_id),
                    "provider": conn.provider,
                    "account_email": conn.account_email,
                },
            )
    dispatch_outbound(hub, outbound)
    log.warning(
        "calendar connection needs re-linking",
        extra={"connection_id": str(connection_id), "reason": reason[:200]},
    )


def fresh_tokens(hub: Hub, connection_id: uuid.UUID) -> TokenSet:
    """Usable tokens; refreshed (once, under the connection's lock) when about to expire."""
    with connection_lock(hub, connection_id):
        with hub.db.session() as db:
            conn = db.get(CalendarConnection, connection_id)
            if conn is None or conn.state != "active" or not conn.tokens_encrypted:
                raise NotConnected(f"connection {connection_id} is not active")
            provider, tokens = conn.provider, unseal(hub, conn.tokens_encrypted)
        if tokens.expires_at is None or tokens.expires_at - REFRESH_MARGIN > utcnow():
            return tokens
        oauth = oauth_for(hub, provider)
        if oauth is None:
            raise NotConnected(f"{provider} is not configured on this hub")
        try:
            tokens = oauth.refresh(tokens)
        except AuthError as err:
            mark_needs_reauth(hub, connection_id, str(err))
            raise
        with hub.db.session() as db:
            conn = db.get(CalendarConnection, connection_id)
            if conn is not None:
                conn.tokens_encrypted, conn.updated_at = seal(hub, tokens), utcnow()
                db.add(conn)
        log.info("calendar tokens refreshed", extra={"connection_id": str(connection_id)})
        return tokens


def api_for(hub: Hub, connection_id: uuid.UUID) -> CalendarApi:
    """The calendar API of a connection, with fresh tokens."""
    with hub.db.session() as db:
        conn = db.get(CalendarConnection, connection_id)
        provider = conn.provider if conn else ""
    oauth = oauth_for(hub, provider)
    if oauth is None:
        raise NotConnected(f"{provider or 'the provider'} is not configured on this hub")
    return oauth.api(fresh_tokens(hub, connection_id))


def coach_connection(db: Db, coach_id: uuid.UUID, provider: str) -> CalendarConnection | None:
    """The coach's connection to a provider that is not revoked (newest first)."""
    return db.exec(
        select(CalendarConnection)
        .where(
            CalendarConnection.coach_id == coach_id,
            CalendarConnection.provider == provider,
            CalendarConnection.state != "revoked",
        )
        .order_by(col(CalendarConnection.updated_at).desc())
    ).first()


def connected_providers(db: Db, coach_id: uuid.UUID) -> set[str]:
    """Calendar providers the coach has linked (active or waiting for a re-link)."""
    return set(
        db.exec(
            select(CalendarConnection.provider).where(
                CalendarConnection.coach_id == coach_id, CalendarConnection.state != "revoked"
            )
        )
    )


def room_in_making(session_id: Any, *, despite_failures: bool = False) -> ColumnElement[bool]:
    """Whether the hub is making the session's Daily room: its link waits for a write and,
    unless `despite_failures`, no attempt at it has failed yet (`session_id` may be a column)."""
    room = aliased(ProviderLink)
    conditions = [
        col(room.session_id) == session_id,
        col(room.provider) == "daily",
        col(room.active),
        col(room.state) == "pending",
    ]
    if not despite_failures:
        conditions.append(col(room.last_error).is_(None))
    return exists().where(*conditions)


def pending_links_of(
    db: Db, coach_id: uuid.UUID, provider: str, *, ready: bool = False
) -> list[uuid.UUID]:
    """Sessions of a coach whose link to a provider waits for a write; with `ready`, not those
    whose video room the hub is still making (their events wait for its join URL)."""
    query = (
        select(ProviderLink.session_id)
        .join(Session, col(Session.id) == ProviderLink.session_id)
        .where(
            Session.coach_id == coach_id,
            ProviderLink.provider == provider,
            ProviderLink.active,
            ProviderLink.state == "pending",
        )
    )
    if ready:
        query = query.where(
            or_(
                col(Session.kind) != "video",
                col(Session.meeting_url).is_not(None),
                ~room_in_making(Session.id),
            )
        )
    return list(db.exec(query))
