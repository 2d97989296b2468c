"""Graph v1.0 `/subscriptions`: create (after the validation handshake), get, renew, delete."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Response

from connectors.sandbox.api import current, json_body
from connectors.sandbox.outlook_http import base_url, graph_json, me, store
from connectors.sandbox.outlook_models import OutlookError
from connectors.sandbox.outlook_notify import validate
from connectors.sandbox.outlook_subs import change_types

blueprint = Blueprint("outlook_subscriptions", __name__)
_MAILBOX = re.compile(r"^(?:me|users/([^/]+))/events$", re.IGNORECASE)
_CALENDAR = re.compile(r"^(?:me|users/([^/]+))/calendars?(?:/([^/]+))?/events$", re.IGNORECASE)


def _expiration(value: Any) -> datetime:
    if not isinstance(value, str):
        raise OutlookError(400, "InvalidRequest", "expirationDateTime is required")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise OutlookError(400, "InvalidRequest", "bad expirationDateTime") from err
    if moment.tzinfo is None:
        raise OutlookError(400, "InvalidRequest", "expirationDateTime needs an offset or Z")
    return store().subscriptions.expiry(moment)


def _watched(resource: Any, email: str, account_id: str) -> str | None:
    """The calendar id a resource covers (None: every calendar of the mailbox); 400 if unknown."""
    path = str(resource or "").strip().strip("/")
    found = _MAILBOX.match(path) or _CALENDAR.match(path)
    if found is None:
        raise OutlookError(400, "InvalidRequest", f"Unsupported resource '{resource}'")
    user = found.group(1)
    if user is not None and user.lower() not in (email, account_id):
        raise OutlookError(403, "ExtensionError", "Operation: Create; Access is denied.")
    if found.re is _MAILBOX:
        return None
    return store().calendars.calendar(email, found.group(2) or "calendar").id


def _url(body: dict[str, Any], key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise OutlookError(400, "InvalidRequest", f"{key} must be an http(s) URL")
    return value


@blueprint.post("/subscriptions")
def create() -> Response:
    body = json_body()
    account = me()
    kinds = change_types(body.get("changeType"))
    notification_url = _url(body, "notificationUrl", True)
    lifecycle_url = _url(body, "lifecycleNotificationUrl", False)
    calendar_id = _watched(body.get("resource"), account.email, account.id)
    expiration = _expiration(body.get("expirationDateTime"))
    client_state = body.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
        raise OutlookError(400, "InvalidRequest", "clientState must be a string of <= 128 chars")
    assert notification_url is not None  # noqa: S101 - _url(required=True) never returns None
    validate(current(), notification_url)
    if lifecycle_url:
        validate(current(), lifecycle_url)
    sub = store().subscriptions.add(
        owner=account.email,
        resource=str(body["resource"]),
        change_types=kinds,
        notification_url=notification_url,
        lifecycle_url=lifecycle_url,
        client_state=client_state,
        expiration=expiration,
        calendar_id=calendar_id,
    )
    return graph_json(sub.to_json(), 201)


@blueprint.get("/subscriptions")
def list_subscriptions() -> Response:
    outlook = store()
    with outlook.lock:
        now = outlook.clock()
        subs = [
            s.to_json()
            for s in outlook.subscriptions.by_id.values()
            if s.owner == me().email and s.live(now)
        ]
    return graph_json({"@odata.context": f"{base_url()}/$metadata#subscriptions", "value": subs})


@blueprint.get("/subscriptions/<sub_id>")
def get_subscription(sub_id: str) -> Response:
    return graph_json(store().subscriptions.get(me().email, sub_id).to_json())


@blueprint.patch("/subscriptions/<sub_id>")
def renew(sub_id: str) -> Response:
    """Only expirationDateTime (and notificationUrl) may change; the renewal is capped too."""
    sub = store().subscriptions.get(me().email, sub_id)
    body = json_body()
    expiration = _expiration(body.get("expirationDateTime"))
    new_url = _url(body, "notificationUrl", False)
    if new_url and new_url != sub.notification_url:
        validate(current(), new_url)
    with store().lock:
        sub.expiration = expiration
        sub.notification_url = new_url or sub.notification_url
        sub.reauthorization_required = False
    return graph_json(sub.to_json())


@blueprint.delete("/subscriptions/<sub_id>")
def delete(sub_id: str) -> Response:
    sub = store().subscriptions.get(me().email, sub_id)
    with store().lock:
        sub.removed = True
    return Response(status=204)


@blueprint.post("/subscriptions/<sub_id>/reauthorize")
def reauthorize(sub_id: str) -> Response:
    sub = store().subscriptions.get(me().email, sub_id)
    with store().lock:
        sub.reauthorization_required = False
        sub.reauthorized += 1
    return Response(status=200)
