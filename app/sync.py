"""From a committed change to provider writes: plan the links, then enqueue reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import Session as Db

from app.domain.sessions import Applied
from app.domain.targets import plan_links
from app.hub import Hub
from app.models import Session


def plan(db: Db, hub: Hub, applied: Applied) -> tuple[str, ...]:
    """Inside the change's transaction: the providers whose links now need a write."""
    if not applied.changed:
        return ()
    session = db.get(Session, applied.session_id)
    if session is None:
        return ()
    return plan_links(db, session, hub.writable)


def dispatch(hub: Hub, session_id: uuid.UUID, providers: Iterable[str]) -> None:
    """After commit: one coalescing reconcile job per (provider, session)."""
    for provider in providers:
        hub.enqueue(
            f"reconcile:{provider}:{session_id}",
            "jobs.reconcile.reconcile",
            str(session_id),
            provider,
        )
