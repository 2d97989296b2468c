"""A coach's calendar links: a URL to link one, the list with their health, unlinking."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Response, jsonify, request
from sqlmodel import col, select

from app.calendars import oauth_for
from app.db import iso, utcnow
from app.errors import NotFound, ValidationFailed
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.http.api.params import as_uuid, body
from app.http.connect import LINK_MAX_AGE, NAMES, link_url
from app.hub import hub
from app.models import CalendarConnection, CalendarFeed, Coach


def _coach(coach_id: str) -> uuid.UUID:
    cid = as_uuid(coach_id, "coach_id")
    with hub().db.session() as db:
        if db.get(Coach, cid) is None:
            raise NotFound("no such coach", field="coach_id")
    return cid


@bp.post("/coaches/<coach_id>/link-url")
@contract({200: schemas.LinkUrl}, body=schemas.LinkUrlRequest, errors=(404,), tag="calendars")
def make_link_url(coach_id: str) -> Response:
    """A signed URL (valid 15 minutes) the coach opens to link a calendar."""
    provider = body().get("provider")
    if provider not in NAMES:
        raise ValidationFailed("provider must be google or outlook", field="provider")
    if oauth_for(hub(), str(provider)) is None:
        raise ValidationFailed(
            f"{provider} is not configured on this hub "
            f"(SESSIONHUB_{str(provider).upper()}_CLIENT_ID)",
            field="provider",
        )
    cid = _coach(coach_id)
    return jsonify(
        {
            "url": link_url(hub(), cid, str(provider)),
            "expires_at": iso(utcnow() + timedelta(seconds=LINK_MAX_AGE)),
        }
    )


@bp.get("/coaches/<coach_id>/connections")
@contract(
    {200: schemas.ConnectionPage},
    errors=(404,),
    tag="calendars",
    links={
        "UnlinkConnection": (
            "unlink_connection",
            {
                "coach_id": "$request.path.coach_id",
                "connection_id": "$response.body#/items/0/id",
            },
        )
    },
)
def connections(coach_id: str) -> Response:
    """The coach's linked calendars with their state and sync health."""
    cid = _coach(coach_id)
    with hub().db.session() as db:
        rows = list(
            db.exec(
                select(CalendarConnection)
                .where(CalendarConnection.coach_id == cid)
                .order_by(col(CalendarConnection.created_at))
            )
        )
        feeds = list(
            db.exec(
                select(CalendarFeed).where(
                    col(CalendarFeed.connection_id).in_([r.id for r in rows])
                )
            )
        )
    items = [
        {
            "id": str(c.id),
            "provider": c.provider,
            "account_email": c.account_email,
            "state": c.state,
            "destination_calendar": c.destination_calendar,
            "busy_calendars": list(c.busy_calendars),
            "last_synced_at": iso(c.last_synced_at),
            "last_error": c.last_error,
            "feeds": [
                {
                    "calendar_id": f.calendar_id,
                    "last_synced_at": iso(f.last_synced_at),
                    "channel_expires_at": iso(f.channel_expires_at),
                    "pending_changes": f.dirty_since is not None,
                }
                for f in feeds
                if f.connection_id == c.id
            ],
        }
        for c in rows
    ]
    return jsonify({"items": items, "next": None})


@bp.delete("/coaches/<coach_id>/connections/<connection_id>")
@contract({202: schemas.Unlinking}, query=schemas.UnlinkQuery, errors=(404,), tag="calendars")
def unlink_connection(coach_id: str, connection_id: str) -> tuple[Response, int]:
    """Unlink: stop channels, revoke, and remove the hub's events unless keep_events=true."""
    cid, conn_id = _coach(coach_id), as_uuid(connection_id, "connection_id")
    with hub().db.session() as db:
        conn = db.get(CalendarConnection, conn_id)
        if conn is None or conn.coach_id != cid:
            raise NotFound("no such connection", field="connection_id")
    keep = request.args.get("keep_events", "false").lower() == "true"
    hub().enqueue(f"unlink-calendar:{conn_id}", "jobs.channels.unlink", str(conn_id), not keep)
    return jsonify({"id": str(conn_id), "status": "unlinking", "keep_events": keep}), 202
