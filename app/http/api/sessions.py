"""Sessions: read, search by any provider id, the timeline, and status changes."""

from __future__ import annotations

import uuid

from flask import Response, jsonify, request
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlmodel import Session as Db
from sqlmodel import col, select

from app.domain.actions import change_status
from app.errors import NotFound, ValidationFailed
from app.http.api import bp, links, schemas
from app.http.api.contract import contract
from app.http.api.params import (
    MAX_ID,
    as_datetime,
    as_int,
    as_uuid,
    body,
    decode_cursor,
    encode_cursor,
    iso,
    limit,
)
from app.http.api.views import event_json, sessions_json
from app.hub import hub
from app.models import SESSION_STATUSES, ProviderLink, Session, SessionEvent
from app.sync import dispatch, plan

#: a status change answers the session, or refuses (403 inside the notice, 409 wrong state)
_CHANGED: dict[int, type[BaseModel] | None] = {200: schemas.SessionOut}
_REFUSED = (403, 404, 409)


@bp.get("/sessions")
@contract(
    {200: schemas.SessionPage},
    query=schemas.SessionQuery,
    tag="sessions",
    links=links.of("session_id", links.SESSION, "$response.body#/items/0/id"),
)
def list_sessions() -> Response:
    """Sessions by coach, time window, status or provider id; ordered by start."""
    args = request.args
    query = select(Session)
    if args.get("coach_id"):
        query = query.where(Session.coach_id == as_uuid(args["coach_id"], "coach_id"))
    if args.get("from"):
        query = query.where(Session.end_at > as_datetime(args["from"], "from"))
    if args.get("to"):
        query = query.where(Session.start_at < as_datetime(args["to"], "to"))
    if args.get("status"):
        wanted = [s.strip() for s in args["status"].split(",") if s.strip()]
        unknown = [s for s in wanted if s not in SESSION_STATUSES]
        if unknown:
            raise ValidationFailed(f"unknown status {unknown[0]!r}", field="status")
        query = query.where(col(Session.status).in_(wanted))
    if args.get("external_id") or args.get("provider"):
        links = select(ProviderLink.session_id)
        if args.get("provider"):
            links = links.where(ProviderLink.provider == args["provider"])
        if args.get("external_id"):
            links = links.where(ProviderLink.external_id == args["external_id"])
        query = query.where(col(Session.id).in_(links))
    cursor = decode_cursor(2)
    if cursor:
        start, last_id = as_datetime(cursor[0], "cursor"), as_uuid(cursor[1], "cursor")
        query = query.where(
            or_(
                col(Session.start_at) > start,
                and_(col(Session.start_at) == start, col(Session.id) > last_id),
            )
        )
    size = limit()
    query = query.order_by(col(Session.start_at), col(Session.id)).limit(size + 1)
    with hub().db.session() as db:
        rows = list(db.exec(query))
        page = rows[:size]
        items = sessions_json(db, page)
    nxt = encode_cursor([iso(page[-1].start_at), str(page[-1].id)]) if len(rows) > size else None
    return jsonify({"items": items, "next": nxt})


@bp.get("/sessions/<session_id>")
@contract({200: schemas.SessionOut}, errors=(404,), tag="sessions")
def get_session(session_id: str) -> Response:
    """One session with its coach, attendee, payment, attendance and links."""
    with hub().db.session() as db:
        session = db.get(Session, as_uuid(session_id, "session_id"))
        if session is None:
            raise NotFound("no such session", field="session_id")
        return jsonify(sessions_json(db, [session])[0])


@bp.get("/sessions/<session_id>/events")
@contract({200: schemas.EventPage}, query=schemas.PageQuery, errors=(404,), tag="sessions")
def session_events(session_id: str) -> Response:
    """The session's timeline, oldest first."""
    sid = as_uuid(session_id, "session_id")
    with hub().db.session() as db:
        if db.get(Session, sid) is None:
            raise NotFound("no such session", field="session_id")
        query = select(SessionEvent).where(SessionEvent.session_id == sid)
        cursor = decode_cursor(1)
        if cursor:
            query = query.where(col(SessionEvent.id) > as_int(cursor[0], "cursor", high=MAX_ID))
        size = limit()
        rows = list(db.exec(query.order_by(col(SessionEvent.id)).limit(size + 1)))
    page = rows[:size]
    nxt = encode_cursor([page[-1].id]) if len(rows) > size else None
    return jsonify({"items": [event_json(e) for e in page], "next": nxt})


def _status_route(session_id: str, status: str) -> tuple[Response, int]:
    data = body() if request.data else {}
    reason, notes, by = data.get("reason"), data.get("notes"), data.get("by", "platform")
    for name, value in (("reason", reason), ("notes", notes)):
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"{name} must be text", field=name)
    if by not in ("coach", "attendee", "platform"):
        raise ValidationFailed("by must be coach, attendee or platform", field="by")
    scope = data.get("scope", "this")
    if scope not in ("this", "following"):
        raise ValidationFailed("scope must be this or following", field="scope")
    sid = as_uuid(session_id, "session_id")
    h = hub()
    with h.db.session() as db:
        targets = [sid] + (_rest_of_series(db, sid) if scope == "following" else [])
        changed = []
        for target in targets:
            applied = change_status(db, target, status, by=by, reason=reason, notes=notes)
            changed.append((target, plan(db, h, applied)))
    for target, providers in changed:
        dispatch(h, target, providers)
    with h.db.session() as db:
        session = db.get(Session, sid)
        assert session is not None  # noqa: S101 - just changed it
        return jsonify(sessions_json(db, [session])[0]), 200


def _rest_of_series(db: Db, sid: uuid.UUID) -> list[uuid.UUID]:
    """Later live occurrences of the session's series (none when it is not in one)."""
    session = db.get(Session, sid)
    if session is None or session.series_id is None:
        return []
    return [
        s.id
        for s in db.exec(
            select(Session).where(
                Session.series_id == session.series_id,
                col(Session.start_at) > session.start_at,
                col(Session.status).not_in(("cancelled", "rejected", "completed", "no_show")),
            )
        )
    ]


@bp.post("/sessions/<session_id>/confirm")
@contract(_CHANGED, body=schemas.StatusChange, body_required=False, errors=_REFUSED, tag="sessions")
def confirm(session_id: str) -> tuple[Response, int]:
    """requested → confirmed."""
    return _status_route(session_id, "confirmed")


@bp.post("/sessions/<session_id>/reject")
@contract(_CHANGED, body=schemas.StatusChange, body_required=False, errors=_REFUSED, tag="sessions")
def reject(session_id: str) -> tuple[Response, int]:
    """requested → rejected."""
    return _status_route(session_id, "rejected")


@bp.post("/sessions/<session_id>/cancel")
@contract(_CHANGED, body=schemas.StatusChange, body_required=False, errors=_REFUSED, tag="sessions")
def cancel(session_id: str) -> tuple[Response, int]:
    """Any live state → cancelled; an attendee may not cancel inside the coach's notice."""
    return _status_route(session_id, "cancelled")


@bp.post("/sessions/<session_id>/outcome")
@contract(_CHANGED, body=schemas.OutcomeChange, errors=_REFUSED, tag="sessions")
def outcome(session_id: str) -> tuple[Response, int]:
    """confirmed → completed | no_show (and corrections between the two)."""
    status = body().get("status")
    if status not in ("completed", "no_show"):
        raise ValidationFailed("status must be completed or no_show", field="status")
    return _status_route(session_id, str(status))
