"""Provider links: one row per (session, provider id), current or historical."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlmodel import Session as Db
from sqlmodel import select

import connectors
from app.db import utcnow
from app.models import ProviderLink, Session
from connectors.base import Change
from connectors.errors import TransientError

log = logging.getLogger(__name__)


def find_link(db: Db, provider: str, external_id: str) -> ProviderLink | None:
    """The link holding this provider id, current or historical."""
    return db.exec(
        select(ProviderLink).where(
            ProviderLink.provider == provider, ProviderLink.external_id == external_id
        )
    ).first()


def mark_links(
    db: Db, session: Session, source: str, fields: Collection[str] | None = None
) -> tuple[str, ...]:
    """Mark every active link `pending` except the source's own, which is now in sync.

    With the changed `fields` known, a link in sync whose provider is written none of them
    stays in sync at the new version.
    """
    pending: list[str] = []
    for link in db.exec(
        select(ProviderLink).where(ProviderLink.session_id == session.id, ProviderLink.active)
    ):
        if link.provider == source:
            link.synced_version = session.version
            link.state = "synced"
            link.last_error = None
        elif link.data.get("managed") is False:
            continue
        elif _unaffected(link, fields):
            link.synced_version = session.version
        else:
            link.state = "pending"
            pending.append(link.provider)
        link.updated_at = utcnow()
        db.add(link)
    return tuple(sorted(set(pending)))


class LinkedElsewhere(TransientError):
    """A new session's own provider id was linked to another session meanwhile.

    Two transactions created a session for one booking at once: the other one committed
    between this one's lookup and its link. Rolling back and retrying finds that session,
    so one booking never makes two sessions.
    """


def _unaffected(link: ProviderLink, fields: Collection[str] | None) -> bool:
    """A link in sync that none of the changed fields concern."""
    if fields is None or link.state != "synced" or link.external_id is None:
        return False
    connector = connectors.get(link.provider)
    written = connector.written_fields if connector is not None else None
    return written is not None and not written.intersection(fields)


def learn_links(db: Db, session: Session, change: Change, created: bool = False) -> None:
    """Record the provider ids this change names; a replaced id stays linked as history."""
    # (provider, id, active, managed): ids another system owns (a Cal Video room, a Stripe
    # payment) are linked for lookup only and never written by the hub
    refs: list[tuple[str, str, bool, bool]] = []
    if change.external_id:
        refs.append((change.source, change.external_id, True, True))
    if change.previous_external_id and change.previous_external_id != change.external_id:
        refs.append((change.source, change.previous_external_id, False, True))
    refs += [(r.provider, r.external_id, True, False) for r in change.links]
    for provider, external_id, active, managed in refs:
        link = find_link(db, provider, external_id)
        if link is None:
            if active:  # one active link per provider: the newest id wins
                retire(db, session, provider)
            link = ProviderLink(
                session_id=session.id,
                provider=provider,
                external_id=external_id,
                active=active,
                synced_version=session.version,
                state="synced",
                data={} if managed else {"managed": False},
            )
        elif link.session_id != session.id:
            if created and provider == change.source and active:
                raise LinkedElsewhere(
                    f"{provider} id {external_id!r} was linked to another session meanwhile"
                )
            log.warning(
                "provider id already linked to another session",
                extra={"provider": provider, "session_id": str(session.id)},
            )
            continue
        elif link.active != active and not active:
            link.active = False
        else:
            continue
        link.updated_at = utcnow()
        db.add(link)
    db.flush()


def retire(db: Db, session: Session, provider: str) -> None:
    for old in db.exec(
        select(ProviderLink).where(
            ProviderLink.session_id == session.id,
            ProviderLink.provider == provider,
            ProviderLink.active,
        )
    ):
        old.active = False
        old.updated_at = utcnow()
        db.add(old)
