"""Public calendar feeds: the secret URL is the credential (no API key)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response

from app.errors import NotFound
from app.hub import hub
from app.ics import coach_feed, feed_sessions, feed_token_matches
from app.models import Coach

bp = Blueprint("feeds", __name__, url_prefix="/ics")


@bp.get("/coaches/<coach_id>/<token>.ics")
def coach_ics(coach_id: str, token: str) -> Response:
    """The coach's sessions; any unknown coach, wrong or revoked token is the same 404."""
    missing = NotFound("no such calendar feed")
    try:
        cid = uuid.UUID(coach_id)
    except ValueError:
        raise missing from None
    with hub().db.session() as db:
        if not feed_token_matches(db, cid, token):
            raise missing
        coach = db.get(Coach, cid)
        if coach is None:
            raise missing
        data = coach_feed(coach, feed_sessions(db, cid))
    return Response(
        data,
        content_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": f'inline; filename="coach-{cid}.ics"',
        },
    )
