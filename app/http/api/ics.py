"""Calendar files under /api: a session's .ics, and the coach's secret feed URL."""

from __future__ import annotations

from flask import Response, jsonify

from app.errors import NotFound
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.http.api.params import as_uuid
from app.hub import hub
from app.ics import issue_feed_token, revoke_feed_token, session_calendar
from app.models import Coach, Session

CALENDAR_TYPE = "text/calendar; charset=utf-8"


@bp.get("/sessions/<session_id>.ics")
@contract({200: None}, errors=(404,), tag="calendars", content_type="text/calendar")
def session_ics(session_id: str) -> Response:
    """The session as an iCalendar invitation (REQUEST, or CANCEL once given up)."""
    with hub().db.session() as db:
        session = db.get(Session, as_uuid(session_id, "session_id"))
        if session is None:
            raise NotFound("no such session", field="session_id")
        coach = db.get(Coach, session.coach_id)
        assert coach is not None  # noqa: S101 - foreign key
        data = session_calendar(session, coach)
    return Response(
        data,
        content_type=CALENDAR_TYPE,
        headers={"Content-Disposition": f'attachment; filename="session-{session.id}.ics"'},
    )


@bp.post("/coaches/<coach_id>/ics-feed")
@contract({201: schemas.FeedUrl}, errors=(404,), tag="calendars")
def create_feed(coach_id: str) -> tuple[Response, int]:
    """Create or rotate the coach's feed URL; the earlier URL stops working."""
    cid = as_uuid(coach_id, "coach_id")
    h = hub()
    with h.db.session() as db:
        if db.get(Coach, cid) is None:
            raise NotFound("no such coach", field="coach_id")
        token = issue_feed_token(db, cid)
    return jsonify({"url": f"{h.settings.public_url}/ics/coaches/{cid}/{token}.ics"}), 201


@bp.delete("/coaches/<coach_id>/ics-feed")
@contract({204: None}, errors=(404,), tag="calendars")
def revoke_feed(coach_id: str) -> tuple[str, int]:
    """Revoke the coach's feed URL."""
    cid = as_uuid(coach_id, "coach_id")
    with hub().db.session() as db:
        if db.get(Coach, cid) is None:
            raise NotFound("no such coach", field="coach_id")
        revoke_feed_token(db, cid)
    return "", 204
