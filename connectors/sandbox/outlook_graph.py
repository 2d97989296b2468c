"""Graph v1.0: `/me`, calendars, events (create with transactionId de-dup, get, patch, delete)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from connectors.sandbox.api import current, json_body
from connectors.sandbox.outlook_http import base_url, expand, graph_json, me, prefer_tz, store
from connectors.sandbox.outlook_models import Calendar, Event, OutlookError, parse_when
from connectors.sandbox.outlook_notify import changed

blueprint = Blueprint("outlook_graph", __name__)


def event_json(event: Event) -> dict[str, Any]:
    body = event.to_json(prefer_tz(), expand())
    body["@odata.context"] = f"{base_url()}/$metadata#users('{event.owner}')/events/$entity"
    return body


@blueprint.get("/me")
def get_me() -> Response:
    account = me()
    name = account.email.split("@")[0]
    return graph_json(
        {
            "@odata.context": f"{base_url()}/$metadata#users/$entity",
            "id": account.id,
            "displayName": name,
            "givenName": name,
            "mail": account.email,
            "userPrincipalName": account.email,
        }
    )


@blueprint.get("/me/calendars")
def list_calendars() -> Response:
    calendars = store().calendars.of(me().email)
    return graph_json(
        {
            "@odata.context": f"{base_url()}/$metadata#users('{me().email}')/calendars",
            "value": [c.to_json() for c in calendars],
        }
    )


@blueprint.get("/me/calendar")
@blueprint.get("/me/calendars/<calendar_id>")
def get_calendar(calendar_id: str = "calendar") -> Response:
    return graph_json(store().calendars.calendar(me().email, calendar_id).to_json())


def _create(calendar: Calendar) -> Response:
    body = json_body()
    event, made = store().calendars.create(calendar, body)
    if made:
        changed(current(), event, "created")
    return graph_json(event_json(event), 201, {"ETag": event.etag})


@blueprint.post("/me/events")
@blueprint.post("/me/calendar/events")
def create_default_event() -> Response:
    return _create(store().calendars.calendar(me().email, "calendar"))


@blueprint.post("/me/calendars/<calendar_id>/events")
def create_event(calendar_id: str) -> Response:
    return _create(store().calendars.calendar(me().email, calendar_id))


@blueprint.get("/me/calendars/<calendar_id>/events")
@blueprint.get("/me/events")
def list_events(calendar_id: str | None = None) -> Response:
    """All live events (no paging: the hub uses delta); `$top` caps the list."""
    cals = store().calendars
    owned = [cals.calendar(me().email, calendar_id)] if calendar_id else cals.of(me().email)
    ids = {c.id for c in owned}
    with current().state.lock:
        found = [e for e in cals.events.values() if e.calendar_id in ids and not e.deleted]
    found.sort(key=lambda e: (e.start, e.id))
    top = request.args.get("$top")
    if top and top.isdigit():
        found = found[: int(top)]
    return graph_json({"value": [event_json(e) for e in found]})


@blueprint.get("/me/events/<event_id>")
@blueprint.get("/me/calendars/<calendar_id>/events/<event_id>")
def get_event(event_id: str, calendar_id: str | None = None) -> Response:
    event = store().calendars.event(me().email, event_id)
    return graph_json(event_json(event), headers={"ETag": event.etag})


def _if_match(event: Event) -> None:
    wanted = request.headers.get("If-Match")
    if wanted and wanted not in ("*", event.etag, event.change_key):
        raise OutlookError(412, "ErrorIrresolvableConflict", "The change key does not match.")


@blueprint.patch("/me/events/<event_id>")
@blueprint.patch("/me/calendars/<calendar_id>/events/<event_id>")
def patch_event(event_id: str, calendar_id: str | None = None) -> Response:
    event = store().calendars.event(me().email, event_id)
    _if_match(event)
    store().calendars.update(event, json_body())
    changed(current(), event, "updated")
    return graph_json(event_json(event), headers={"ETag": event.etag})


@blueprint.delete("/me/events/<event_id>")
@blueprint.delete("/me/calendars/<calendar_id>/events/<event_id>")
def delete_event(event_id: str, calendar_id: str | None = None) -> Response:
    event = store().calendars.event(me().email, event_id)
    _if_match(event)
    store().calendars.delete(event)
    changed(current(), event, "deleted")
    return Response(status=204)


@blueprint.post("/me/calendar/getSchedule")
def get_schedule() -> Response:
    """Busy items (non-free, non-cancelled events) of the caller's own mailbox(es)."""
    body = json_body()
    start = parse_when(body.get("startTime"), "startTime")
    end = parse_when(body.get("endTime"), "endTime")
    cals = store().calendars
    answers = []
    for address in body.get("schedules") or []:
        items = []
        if str(address).lower() in current().state.outlook.accounts:
            for calendar in cals.of(str(address).lower()):
                for event in cals.window(calendar, start, end):
                    if event.show_as != "free" and not event.is_cancelled:
                        shown = event.to_json(prefer_tz())
                        items.append(
                            {"status": event.show_as, "start": shown["start"], "end": shown["end"]}
                        )
        answers.append({"scheduleId": address, "availabilityView": "", "scheduleItems": items})
    return graph_json({"value": answers})
