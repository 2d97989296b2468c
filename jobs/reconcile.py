"""`reconcile(session_id, provider)`: make one provider hold what the session says.

Convergent: reads the session and its link, does at most one provider write, records what it
wrote. Safe to run twice, concurrently (a per-session lock), or after a crash mid-call (each
connector's create is idempotent: deterministic ids, idempotency keys or lookup-before-create).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sqlmodel import Session as Db
from sqlmodel import select

from app.calendars import (
    NotConnected,
    api_for,
    calendar_connector,
    coach_connection,
    mark_needs_reauth,
    pending_links_of,
    room_in_making,
)
from app.db import utcnow
from app.domain.sessions import apply_change
from app.hub import Hub, hub
from app.locks import reconcile_kind, session_lock, try_locks
from app.models import Coach, ProviderLink, Session
from app.sync import Planned, dispatch, plan
from connectors.base import Change, LinkState, Outbound, PushResult, SessionView
from connectors.errors import AuthError, PermanentError, TransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Plan:
    op: str  # create | update | delete | nothing
    view: SessionView | None = None
    coach_id: uuid.UUID | None = None
    link_id: uuid.UUID | None = None
    state: LinkState | None = None


def reconcile(session_id: str, provider: str) -> str:
    """Bring `provider` in line with the session; returns the operation performed."""
    h = hub()
    sid = uuid.UUID(session_id)
    ctx = {"session_id": session_id, "provider": provider}
    if h.outbound(provider) is None and calendar_connector(provider) is None:
        log.info("provider not configured for writes, nothing to do", extra=ctx)
        return "disabled"
    with session_lock(h, sid, provider):
        plan_ = _decide(h, sid, provider)
        if plan_.op == "nothing" or plan_.view is None or plan_.link_id is None:
            return "nothing"
        connection_id: uuid.UUID | None = None
        try:
            writer, connection_id = _writer(h, provider, plan_)
            if isinstance(writer, Batching) and (others := _others(h, provider, plan_)):
                return _reconcile_batch(h, provider, writer, plan_, others)
            if plan_.op == "create":
                _mark_create_sent(h, [plan_.link_id])
            result = _call(writer, plan_)
        except NotConnected as err:
            # parked, not burnt: a re-link re-queues every pending link of the coach
            _record_error(
                h, plan_.link_id, f"waiting for the calendar link: {err}", state="pending"
            )
            return "parked"
        except TransientError as err:
            _record_error(h, plan_.link_id, str(err), state="pending")
            if provider == "daily":
                _release_waiting(h, sid)
            log.warning("provider call failed, will retry", extra={**ctx, "op": plan_.op})
            raise
        except AuthError as err:
            if connection_id is not None or calendar_connector(provider) is not None:
                if connection_id is not None:
                    mark_needs_reauth(h, connection_id, str(err))
                _record_error(
                    h,
                    plan_.link_id,
                    "waiting for the calendar link: access was refused",
                    state="pending",
                )
                return "parked"
            _record_error(h, plan_.link_id, f"credentials refused: {err}", state="error")
            log.error("provider refused our credentials", extra={**ctx, "op": plan_.op})
            return "auth_error"
        except PermanentError as err:
            _record_error(h, plan_.link_id, str(err), state="error")
            if provider == "daily":
                _release_waiting(h, sid)
            log.error("provider refused the change", extra={**ctx, "op": plan_.op})
            return "error"
        _record(h, plan_, result, provider)
    log.info("provider reconciled", extra={**ctx, "op": plan_.op, "version": plan_.view.version})
    return plan_.op


@runtime_checkable
class Batching(Protocol):
    """A writer that can send many writes in one request (Google's batch endpoint)."""

    def batch_write(
        self, items: Sequence[tuple[str, SessionView, LinkState | None]]
    ) -> list[PushResult | Exception]:
        """One request for many writes; a result (or the error) per item, in order."""


#: how many sessions one batch request writes at most
BATCH_SIZE = 50


def _others(h: Hub, provider: str, plan_: _Plan) -> list[uuid.UUID]:
    """Other sessions of the same coach waiting for a write to the same calendar."""
    if plan_.coach_id is None or plan_.view is None:
        return []
    with h.db.session() as db:
        return [
            sid
            for sid in pending_links_of(db, plan_.coach_id, provider, ready=True)
            if str(sid) != plan_.view.id
        ][: BATCH_SIZE - 1]


def _reconcile_batch(
    h: Hub, provider: str, writer: Batching, first: _Plan, others: list[uuid.UUID]
) -> str:
    """Write this session and the coach's other waiting sessions in one batch request."""
    # a session another job is writing right now is left to that job
    with try_locks(h, reconcile_kind(provider), others) as held:
        plans = [first]
        for sid in held:
            other = _decide(h, sid, provider)
            if other.op != "nothing" and other.view is not None:
                plans.append(other)
        _mark_create_sent(h, [p.link_id for p in plans if p.op == "create"])
        items = [(p.op, p.view, p.state) for p in plans if p.view is not None]
        results = writer.batch_write(items)
        for p, result in zip(plans, results, strict=True):
            if isinstance(result, TransientError):
                _record_error(h, p.link_id, str(result), state="pending")
                if p is not first and p.view is not None:
                    h.enqueue(
                        f"reconcile:{provider}:{p.view.id}",
                        "jobs.reconcile.reconcile",
                        p.view.id,
                        provider,
                        delay=result.retry_after or 5,
                    )
            elif isinstance(result, Exception):
                _record_error(h, p.link_id, str(result), state="error")
            else:
                _record(h, p, None if p.op == "delete" else result, provider)
    log.info("batch written", extra={"provider": provider, "writes": len(plans)})
    first_result = results[0]
    if isinstance(first_result, TransientError):
        raise first_result
    return "batch"


def _writer(h: Hub, provider: str, plan_: _Plan) -> tuple[Outbound, uuid.UUID | None]:
    """The writer for this provider: the hub's own key, or the coach's linked calendar."""
    if calendar_connector(provider) is None:
        writer = h.outbound(provider)
        assert writer is not None  # noqa: S101 - checked before the lock
        return writer, None
    with h.db.session() as db:
        conn = coach_connection(db, plan_.coach_id, provider) if plan_.coach_id else None
        if conn is None or conn.state != "active":
            raise NotConnected("the coach's calendar is not linked (or needs re-linking)")
        calendar, options, conn_id = conn.destination_calendar or "primary", conn.options, conn.id
    return api_for(h, conn_id).writer(calendar, options), conn_id


def _decide(h: Hub, sid: uuid.UUID, provider: str) -> _Plan:
    with h.db.session() as db:
        session = db.get(Session, sid)
        link = db.exec(
            select(ProviderLink).where(
                ProviderLink.session_id == sid,
                ProviderLink.provider == provider,
                ProviderLink.active,
            )
        ).first()
        if session is None or link is None or link.data.get("managed") is False:
            return _Plan("nothing")
        if link.state == "synced" and link.synced_version >= session.version:
            return _Plan("nothing")
        coach = db.get(Coach, session.coach_id)
        view = SessionView(
            id=str(session.id),
            version=session.version,
            status=session.status,
            title=session.title,
            start_at=session.start_at,
            end_at=session.end_at,
            timezone=session.timezone,
            kind=session.kind,
            coach_email=coach.email if coach else "",
            coach_name=coach.name if coach else "",
            attendee_email=session.attendee_email,
            attendee_name=session.attendee_name,
            meeting_url=session.meeting_url,
            location=session.location,
            notes=session.notes,
            attendee_timezone=session.attendee_timezone,
            cancellation_reason=session.cancellation_reason,
            coach_settings={"calcom_event_type_id": coach.calcom_event_type_id} if coach else {},
        )
        state = LinkState(
            link.external_id, link.remote_version, link.synced_version, dict(link.data)
        )
        gone = link.data.get("deleted") is True
        # a create that was sent may have been done even though its answer never came back
        # (a timeout, a crash): then there is something to delete, found by its derived id
        made = link.external_id or link.data.get("create_sent") is True
        if not view.live:
            op = "delete" if made and not gone else "settle"
        else:
            op = "create" if link.external_id is None or gone else "update"
        if op == "create" and _awaits_room(db, session, provider):
            # booked with the hub's room once Daily has made it (meeting_url_set re-plans
            # this link); booked now, Cal.com would open a second, Cal Video room
            link.last_error = WAITING_FOR_ROOM
            db.add(link)
            return _Plan("nothing")
        if op == "settle":  # nothing to remove at the provider: only the bookkeeping
            link.state, link.synced_version, link.last_error = "synced", session.version, None
            link.updated_at = utcnow()
            db.add(link)
            return _Plan("nothing")
        return _Plan(op, view, session.coach_id, link.id, state)


#: what a create parked until the session's Daily room exists records on its link
WAITING_FOR_ROOM = "waiting for the session's video room"


def _release_waiting(h: Hub, sid: uuid.UUID) -> None:
    """Making the room failed: the calendar events parked for it are written without it."""
    with h.db.session() as db:
        parked = list(
            db.exec(
                select(ProviderLink.provider).where(
                    ProviderLink.session_id == sid,
                    ProviderLink.active,
                    ProviderLink.state == "pending",
                    ProviderLink.last_error == WAITING_FOR_ROOM,
                )
            )
        )
    for provider in parked:
        if provider != "calcom":  # a booking still waits: it would open a room of its own
            h.enqueue(f"reconcile:{provider}:{sid}", "jobs.reconcile.reconcile", str(sid), provider)


def _awaits_room(db: Db, session: Session, provider: str) -> bool:
    """A create that waits for the session's Daily room, which the hub is making.

    A Cal.com booking made now would open a second, Cal Video room; a calendar event made now
    would need a second write for its join URL — unless making the room has failed so far
    (a Daily outage must not keep the session out of the coach's calendar).
    """
    if session.kind != "video" or session.meeting_url:
        return False
    if provider != "calcom" and calendar_connector(provider) is None:
        return False
    making = room_in_making(session.id, despite_failures=provider == "calcom")
    return bool(db.exec(select(making)).one())


def _call(writer: Outbound, plan_: _Plan) -> PushResult | None:
    assert plan_.view is not None  # noqa: S101 - set by _decide
    assert plan_.state is not None  # noqa: S101 - set by _decide
    if plan_.op == "create":
        return writer.create(plan_.view)
    if plan_.op == "update":
        return writer.update(plan_.view, plan_.state)
    writer.delete(plan_.view, plan_.state)
    return None


def _record(h: Hub, plan_: _Plan, result: PushResult | None, provider: str) -> None:
    assert plan_.view is not None  # noqa: S101 - set by _decide
    providers: Planned = Planned()
    again = False
    with h.db.session() as db:
        # the session row first, locked: a change committed meanwhile (the provider's own
        # webhook about this write can arrive before its answer) is seen, never overwritten
        session = db.get(Session, uuid.UUID(plan_.view.id), with_for_update=True)
        link = db.get(ProviderLink, plan_.link_id, populate_existing=True)
        if link is None or session is None:
            return
        if result is None:
            link.data = {**link.data, "deleted": True}
        elif link.external_id not in (None, result.external_id):
            # the provider issued a new id (a Cal.com reschedule): keep the old one as history
            link.active = False
            db.add(link)
            db.flush()
            link = ProviderLink(session_id=session.id, provider=provider)
        if result is not None:
            link.external_id = result.external_id
            link.remote_version = result.remote_version
            link.data = {**link.data, **result.data, "deleted": False}
        link.synced_version = plan_.view.version
        link.state = "synced" if session.version == plan_.view.version else "pending"
        again = link.state == "pending"  # changed while we wrote: write the newer version
        link.last_error = None
        link.updated_at = utcnow()
        db.add(link)
        if result is not None and result.meeting_url and session.meeting_url != result.meeting_url:
            applied = apply_change(
                db,
                Change(
                    source=provider,
                    external_id=result.external_id,
                    session_id=str(session.id),
                    event="meeting_url_set",
                    occurred_at=utcnow(),
                    meeting_url=result.meeting_url,
                ),
            )
            if again:
                # the join URL came from this provider, but what it holds is still the older
                # version: the change made meanwhile (a reschedule) must be written to it too
                link.state, link.synced_version = "pending", plan_.view.version
                db.add(link)
            providers = plan(db, h, applied)
    if again:
        providers = Planned(
            (*providers.providers, provider), providers.outbound, providers.reminders
        )
    if providers:
        dispatch(h, uuid.UUID(plan_.view.id), providers)


def _mark_create_sent(h: Hub, link_ids: Sequence[uuid.UUID | None]) -> None:
    """Note, before the call, that a create is being sent for these links."""
    with h.db.session() as db:
        for link_id in link_ids:
            link = db.get(ProviderLink, link_id)
            if link is not None and link.data.get("create_sent") is not True:
                link.data = {**link.data, "create_sent": True}
                db.add(link)


def _record_error(h: Hub, link_id: uuid.UUID | None, message: str, *, state: str) -> None:
    with h.db.session() as db:
        link = db.get(ProviderLink, link_id)
        if link is not None:
            link.state, link.last_error, link.updated_at = state, message[:2000], utcnow()
            db.add(link)
