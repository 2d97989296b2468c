"""From a committed change to provider writes: plan the links, then enqueue reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session as Db

from app.db import iso, utcnow
from app.domain.reminders import plan_reminders
from app.domain.sessions import Applied
from app.domain.targets import plan_links
from app.hub import Hub
from app.models import Coach, Session
from app.outbox import emit, outbound_jobs


@dataclass(frozen=True)
class Planned:
    """What a committed change must set off: provider writes and outbound webhook messages."""

    providers: tuple[str, ...] = ()
    outbound: tuple[int, ...] = ()
    #: the change was planned (its reminders may have moved): queue them after the commit
    reminders: bool = False

    def __bool__(self) -> bool:
        return bool(self.providers or self.outbound or self.reminders)


def plan(db: Db, hub: Hub, applied: Applied) -> Planned:
    """Inside the change's transaction: links, reminders and platform events to follow."""
    if not applied.changed:
        return Planned()
    session = db.get(Session, applied.session_id)
    if session is None:
        return Planned()
    plan_reminders(db, session, db.get(Coach, session.coach_id), utcnow())
    outbound: list[int] = []
    for event_type in platform_events(applied, session):
        outbound += emit(db, event_type, session_event_data(session, applied))
    return Planned(plan_links(db, session, hub.writable), tuple(outbound), reminders=True)


def platform_events(applied: Applied, session: Session) -> list[str]:
    """The outbound event types a change means to the platform."""
    fields = set(applied.fields)
    if applied.created:
        return ["session.created"]
    events = []
    if "status" in fields and session.status == "cancelled":
        events.append("session.cancelled")
    elif fields & {"start_at", "end_at"}:
        events.append("session.rescheduled")
    if fields & {"actual_start", "actual_end", "attended"} or (
        "status" in fields and session.status in ("completed", "no_show")
    ):
        events.append("session.attendance")
    if fields & {"payment_status", "payment_amount"}:
        events.append("payment.updated")
    if not events:
        events.append("session.updated")
    return events


def session_event_data(session: Session, applied: Applied) -> dict[str, object]:
    """The body of a session's outbound event (no personal data beyond the attendee's e-mail)."""
    return {
        "session_id": str(session.id),
        "version": session.version,
        "status": session.status,
        "start_at": iso(session.start_at),
        "end_at": iso(session.end_at),
        "timezone": session.timezone,
        "payment_status": session.payment_status,
        "meeting_url": session.meeting_url,
        "attendee_email": session.attendee_email,
        "coach_id": str(session.coach_id),
        "changed": list(applied.fields),
    }


def enqueue_reminders(hub: Hub, session_id: uuid.UUID) -> None:
    """Queue the session's unsent reminders for their due times."""
    from jobs.reminders import enqueue_reminders as queue_them  # jobs may import app

    queue_them(hub, session_id)


def dispatch(hub: Hub, session_id: uuid.UUID, planned: Planned | Iterable[str]) -> None:
    """After commit: one coalescing reconcile job per (provider, session), reminders, webhooks."""
    if not isinstance(planned, Planned):
        planned = Planned(tuple(planned))
    if planned.reminders:  # an unchanged repeat has nothing new to queue: no query for it
        enqueue_reminders(hub, session_id)
    hub.enqueue_many(  # the provider writes and the platform's webhooks: one round trip
        [
            (f"reconcile:{p}:{session_id}", "jobs.reconcile.reconcile", (str(session_id), p))
            for p in planned.providers
        ]
        + outbound_jobs(planned.outbound)
    )
