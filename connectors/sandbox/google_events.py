"""Calendar API v3 events: list (full and incremental), insert, get, patch, update, delete."""

from __future__ import annotations

from flask import Blueprint, Response, request

from connectors.sandbox import google_sync
from connectors.sandbox.api import json_body
from connectors.sandbox.google_http import (
    calendar,
    changed,
    no_content,
    reply,
    send_updates,
    store,
)

blueprint = Blueprint("google_events", __name__)


@blueprint.get("/calendars/<calendar_id>/events")
def list_events(calendar_id: str) -> Response:
    """events.list: syncToken/pageToken/maxResults and the full-listing filters."""
    cal = calendar(calendar_id)
    with store().lock:
        return reply(google_sync.list_events(cal, request.args))


@blueprint.post("/calendars/<calendar_id>/events")
def insert_event(calendar_id: str) -> Response:
    """events.insert (200, as Google answers); a push follows every change."""
    cal = calendar(calendar_id)
    event = store().insert(cal, json_body(), send_updates=send_updates())
    changed(cal)
    return reply(event.to_json(), etag=event.etag)


@blueprint.get("/calendars/<calendar_id>/events/<event_id>")
def get_event(calendar_id: str, event_id: str) -> Response:
    """events.get (deleted events too, with `status: cancelled`)."""
    event = store().event(calendar(calendar_id), event_id)
    return reply(event.to_json(), etag=event.etag)


def _update(calendar_id: str, event_id: str, *, replace: bool) -> Response:
    cal = calendar(calendar_id)
    event = store().update(
        cal,
        event_id,
        json_body(),
        replace=replace,
        if_match=request.headers.get("If-Match"),
        send_updates=send_updates(),
    )
    changed(cal)
    return reply(event.to_json(), etag=event.etag)


@blueprint.patch("/calendars/<calendar_id>/events/<event_id>")
def patch_event(calendar_id: str, event_id: str) -> Response:
    """events.patch: objects merge, arrays and scalars replace."""
    return _update(calendar_id, event_id, replace=False)


@blueprint.put("/calendars/<calendar_id>/events/<event_id>")
def update_event(calendar_id: str, event_id: str) -> Response:
    """events.update: the body replaces the event."""
    return _update(calendar_id, event_id, replace=True)


@blueprint.delete("/calendars/<calendar_id>/events/<event_id>")
def delete_event(calendar_id: str, event_id: str) -> Response:
    """events.delete: 204; the event stays as `status: cancelled` (410 the second time)."""
    cal = calendar(calendar_id)
    store().delete(
        cal, event_id, if_match=request.headers.get("If-Match"), send_updates=send_updates()
    )
    changed(cal)
    return no_content()
