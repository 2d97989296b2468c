"""Applying canonical changes to sessions: one transaction, one version, one timeline entry."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlmodel import Session as Db
from sqlmodel import select

from app.db import utcnow
from app.domain.coaches import ensure_coach
from app.domain.links import find_link, learn_links, mark_links
from app.domain.payments import apply_payment_policy, review_flag
from app.domain.status import check_move
from app.errors import SessionNotFound, ValidationFailed
from app.models import Coach, ProviderLink, Session, SessionEvent
from connectors.base import Change, Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What applying a change did."""

    session_id: uuid.UUID
    version: int
    changed: bool = False
    created: bool = False
    stale: bool = False
    pending: tuple[str, ...] = field(default_factory=tuple)
    #: the session fields this change altered (what outbound events are derived from)
    fields: tuple[str, ...] = field(default_factory=tuple)


def load_for_update(db: Db, session_id: uuid.UUID) -> Session | None:
    """Read a session and lock its row until the transaction ends (PostgreSQL)."""
    return db.exec(select(Session).where(Session.id == session_id).with_for_update()).first()


def _locate(db: Db, change: Change) -> tuple[Session | None, ProviderLink | None]:
    if change.session_id:
        try:
            sid = uuid.UUID(change.session_id)
        except ValueError:
            sid = None
        found = load_for_update(db, sid) if sid else None
        if found is not None:
            return found, None
    for external_id in (change.external_id, change.previous_external_id):
        if not external_id:
            continue
        link = find_link(db, change.source, external_id)
        if link is not None:
            return load_for_update(db, link.session_id), link
    for ref in change.links:
        link = find_link(db, ref.provider, ref.external_id)
        if link is not None:
            return load_for_update(db, link.session_id), None
    return None, None


def apply_change(db: Db, change: Change) -> Applied:
    """Apply one canonical change; the caller commits and then enqueues reconciliation."""
    session, link = _locate(db, change)
    if session is None:
        return _create(db, change)

    if change.timeline_only:
        if not _already_on_timeline(db, session, change):
            _event(db, session, change, applied=True, data={})
            if change.detail.get("flag") == "ops" and not session.needs_review:
                session.needs_review = True  # a dispute: ops must look (not a provider change)
                db.add(session)
        learn_links(db, session, change)
        return Applied(session.id, session.version)

    if _is_stale(session, change, link):
        if not _diff(db, session, change, check=False):
            return Applied(session.id, session.version)  # nothing it would change: a repeat
        _event(db, session, change, applied=False, data={"ignored": "older than current state"})
        log.info(
            "stale change ignored",
            extra={"session_id": str(session.id), "source": change.source, "event": change.event},
        )
        return Applied(session.id, session.version, stale=True)

    diff = _diff(db, session, change)
    if "coach" in diff:
        session.coach_id = diff["coach"][1]
    learn_links(db, session, change)
    _advance_clock(session, change)
    if not diff:
        db.add(session)
        return Applied(session.id, session.version)

    for name, (_, new) in diff.items():
        if name != "coach":
            setattr(session, name, new)
    session.version += 1
    session.source = change.source
    session.updated_at = utcnow()
    flag = review_flag(session, diff)
    if flag:
        session.needs_review = True
    db.add(session)
    _event(
        db,
        session,
        change,
        applied=True,
        data={**_describe(diff), **({"flag": flag} if flag else {})},
    )
    pending = mark_links(db, session, change.source, diff)
    return Applied(
        session.id, session.version, changed=True, pending=pending, fields=tuple(sorted(diff))
    )


def _create(db: Db, change: Change) -> Applied:
    if not change.create or change.timeline_only:
        raise SessionNotFound(
            f"no session is linked to {change.source} id {change.external_id!r}",
            field="external_id",
        )
    if change.coach is None or change.start_at is None or change.end_at is None:
        raise ValidationFailed("a new session needs a coach, a start and an end", field="start_at")
    if change.end_at <= change.start_at:
        raise ValidationFailed("a session must end after it starts", field="end_at")
    coach = ensure_coach(db, change.coach, change.source)
    session = Session(coach_id=coach.id, start_at=change.start_at, end_at=change.end_at)
    session.timezone = change.timezone or coach.timezone
    session.status = change.status or ("confirmed" if coach.auto_confirm else "requested")
    diff = _diff(db, session, change, check=False)  # a new session has no transition to check
    for name, (_, new) in diff.items():
        if name != "coach":
            setattr(session, name, new)
    session.source = change.source
    _advance_clock(session, change)
    db.add(session)
    db.flush()
    learn_links(db, session, change, created=True)
    _event(db, session, change, applied=True, data={"created": True, **_describe(diff)})
    pending = mark_links(db, session, change.source)
    return Applied(
        session.id,
        session.version,
        changed=True,
        created=True,
        pending=pending,
        fields=tuple(sorted(diff)),
    )


def _already_on_timeline(db: Db, session: Session, change: Change) -> bool:
    """A fact with its own identity (one participant's join) is recorded once."""
    key = change.detail.get("session_id")
    if not key:
        return False
    events = db.exec(
        select(SessionEvent).where(
            SessionEvent.session_id == session.id, SessionEvent.kind == change.event
        )
    )
    return any(e.data.get("detail", {}).get("session_id") == key for e in events)


def _is_stale(session: Session, change: Change, link: ProviderLink | None) -> bool:
    if change.commutative:  # merged facts (call attendance): order does not matter
        return False
    # a change about an id the session has moved away from (a pre-reschedule Cal.com uid)
    if link is not None and not link.active and change.external_id == link.external_id:
        return True
    seen = session.source_clock.get(change.source)
    return seen is not None and change.occurred_at < datetime.fromisoformat(seen)


def _advance_clock(session: Session, change: Change) -> None:
    if change.commutative:
        return
    seen = session.source_clock.get(change.source)
    if seen is None or change.occurred_at > datetime.fromisoformat(seen):
        session.source_clock = {
            **session.source_clock,
            change.source: change.occurred_at.isoformat(),
        }


def _person_fields(person: Person | None) -> dict[str, Any]:
    if person is None:
        return {}
    out: dict[str, Any] = {"attendee_email": person.email.strip().lower()}
    if person.name:
        out["attendee_name"] = person.name
    if person.timezone:
        out["attendee_timezone"] = person.timezone
    if person.client_ref:
        out["attendee_client_ref"] = person.client_ref
    return out


def _wanted(db: Db, session: Session, change: Change) -> dict[str, Any]:
    want: dict[str, Any] = {
        name: getattr(change, name)
        for name in (
            "start_at",
            "end_at",
            "timezone",
            "title",
            "notes",
            "reason",
            "kind",
            "location",
            "meeting_url",
            "payment_status",
            "payment_amount",
            "payment_currency",
        )
        if getattr(change, name) is not None
    }
    want.update(_person_fields(change.attendee))
    if change.series_id is not None:
        want["series_id"] = uuid.UUID(change.series_id)
    if change.guests:
        want["guests"] = [{"email": g.email.lower(), "name": g.name} for g in change.guests]
    if change.coach is not None:
        want["coach"] = ensure_coach(db, change.coach, change.source).id
    # providers know bookings, not outcomes: "still booked" must not undo a recorded outcome
    outcome_known = change.status == "confirmed" and session.status in ("completed", "no_show")
    if change.status is not None and not outcome_known:
        want["status"] = change.status
        if change.status in ("cancelled", "rejected", "awaiting_reschedule"):
            want["cancellation_reason"] = change.cancellation_reason
        if change.status == "cancelled":
            want["cancelled_by"] = change.cancelled_by or change.source
            if session.status != "cancelled":
                want["cancelled_at"] = change.occurred_at
    coach = db.get(Coach, want.get("coach", session.coach_id))
    apply_payment_policy(session, coach, want, new=inspect(session).transient)
    if change.attendance is not None:
        att = change.attendance
        # a call may drop and restart: the earliest start and the latest end win
        if att.actual_start is not None:
            known = session.actual_start
            want["actual_start"] = min(known, att.actual_start) if known else att.actual_start
        if att.actual_end is not None:
            known = session.actual_end
            want["actual_end"] = max(known, att.actual_end) if known else att.actual_end
        if att.attended is not None:
            want["attended"] = att.attended
        status = want.get("status", session.status)
        if att.no_show and status in ("confirmed", "completed", "no_show"):
            want["attended"] = False
            want["status"] = "no_show"
        elif att.no_show is False and status == "no_show":
            # an undone no-show mark (a false report) means the session did take place
            want["attended"] = True
            want["status"] = "completed"
    return want


def _diff(
    db: Db, session: Session, change: Change, *, check: bool = True
) -> dict[str, tuple[Any, Any]]:
    want = _wanted(db, session, change)
    current = {**session.__dict__, "coach": session.coach_id}
    diff = {k: (current.get(k), v) for k, v in want.items() if current.get(k) != v}
    if not check:
        return diff
    if "status" in diff and session.status:
        rescheduling = "start_at" in diff or "end_at" in diff
        check_move(session.status, diff["status"][1], rescheduling=rescheduling)
    start = diff.get("start_at", (None, session.start_at))[1]
    end = diff.get("end_at", (None, session.end_at))[1]
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("a session must end after it starts", field="end_at")
    return diff


def _event(
    db: Db, session: Session, change: Change, *, applied: bool, data: dict[str, Any]
) -> None:
    detail = {k: _jsonable(v) for k, v in change.detail.items()}
    db.add(
        SessionEvent(
            session_id=session.id,
            kind=change.event,
            source=change.source,
            actor=change.cancelled_by,
            version=session.version,
            applied=applied,
            data={
                **data,
                **({"detail": detail} if detail else {}),
                "occurred_at": change.occurred_at.isoformat(),
                **({"external_id": change.external_id} if change.external_id else {}),
            },
        )
    )


def _describe(diff: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    shown = {"status", "start_at", "end_at", "payment_status", "meeting_url", "kind", "coach"}
    return {
        "changes": {
            k: {"from": _jsonable(old), "to": _jsonable(new)} if k in shown else True
            for k, (old, new) in diff.items()
        }
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
