"""Graph's side of subscriptions: the validation handshake, change and lifecycle notifications.

Sent through the sandbox's WebhookSender (outbox rows with provider `outlook`, synchronous unless
`background_webhooks`). With `batch_notifications` on, change notifications wait in
`state.outlook.pending` until `flush()`, which sends one POST per notificationUrl.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import requests

from connectors.sandbox.api import Sandbox
from connectors.sandbox.models import Delivery
from connectors.sandbox.outlook_models import Event, OutlookError, iso
from connectors.sandbox.outlook_store import TENANT_ID
from connectors.sandbox.outlook_subs import Subscription
from connectors.sandbox.webhooks import raw_json

LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
VALIDATION_TIMEOUT = 10.0
VALIDATION_FAILED = (
    "Subscription validation request failed. "
    "Notification endpoint must respond with 200 OK to validation request."
)


def _with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}validationToken={quote(token, safe='')}"


def validate(sb: Sandbox, url: str) -> None:
    """POST ?validationToken=…; the endpoint must echo it as text/plain within 10 s (else 400)."""
    token = (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )
    sender = sb.webhooks
    delivery = sender._record("outlook", "validation", url, token)
    if not sb.config.send_webhooks:
        sender._hold(delivery, "webhooks disabled (validation assumed)")
        return
    status: int | None = None
    error: str | None = None
    ok = False
    try:
        with requests.post(
            _with_token(url, token),
            data=b"",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=min(VALIDATION_TIMEOUT, sb.config.webhook_timeout * 2),
            allow_redirects=False,
        ) as answer:
            status = answer.status_code
            kind = answer.headers.get("Content-Type", "").lower()
            ok = status == 200 and kind.startswith("text/plain") and answer.text == token
            if status == 200 and not ok:
                error = "answer was not the token as text/plain"
    except requests.RequestException as err:
        error = type(err).__name__
    with sb.state.lock:
        delivery.status_code, delivery.error = status, error
        delivery.result = "delivered" if ok else "failed"
    if not ok:
        raise OutlookError(400, "ValidationError", VALIDATION_FAILED)


def _post(sb: Sandbox, kind: str, url: str, body: Mapping[str, Any], deliver: bool) -> Delivery:
    sender = sb.webhooks
    delivery = sender._record("outlook", kind, url, dict(body))
    why = sender._why_not(deliver)
    if why:
        sender._hold(delivery, why)
    else:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        sender._dispatch(partial(sender._post, delivery, raw_json(body), headers))
    return delivery


def item(sub: Subscription, event: Event, change_type: str, account_id: str) -> dict[str, Any]:
    """One change notification (no resource data; the hub fetches the event or runs delta)."""
    resource = f"Users/{account_id}/Events/{event.id}"
    return {
        "id": uuid.uuid4().hex[:16],
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": iso(sub.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": event.etag,
            "id": event.id,
        },
        "clientState": sub.client_state,
        "tenantId": TENANT_ID,
    }


def changed(sb: Sandbox, event: Event, change_type: str, *, deliver: bool = True) -> int:
    """Notify every live subscription covering the event's calendar; how many items were made."""
    store = sb.state.outlook
    with sb.state.lock:
        account = store.accounts[event.owner]
        subs = [
            s
            for s in store.subscriptions.watching(event.owner, event.calendar_id)
            if change_type in s.change_types
        ]
        items = [(s, item(s, event, change_type, account.id)) for s in subs]
        for sub, _ in items:
            sub.notifications += 1
        if store.batch_notifications and deliver:
            store.pending.extend((s.notification_url, body) for s, body in items)
            return len(items)
    for sub, body in items:
        _post(sb, change_type, sub.notification_url, {"value": [body]}, deliver)
    return len(items)


def flush(sb: Sandbox) -> list[Delivery]:
    """Send the pending change notifications, one POST per notificationUrl."""
    store = sb.state.outlook
    with sb.state.lock:
        pending, store.pending = store.pending, []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for url, body in pending:
        grouped.setdefault(url, []).append(body)
    return [_post(sb, "batch", url, {"value": items}, True) for url, items in grouped.items()]


def lifecycle(sb: Sandbox, sub: Subscription, event: str, *, deliver: bool = True) -> Delivery:
    """A lifecycle notification to the subscription's lifecycleNotificationUrl."""
    if event not in LIFECYCLE_EVENTS:
        raise OutlookError(400, "bad_request", f"lifecycleEvent must be one of {LIFECYCLE_EVENTS}")
    if not sub.lifecycle_url:
        raise OutlookError(409, "conflict", "the subscription has no lifecycleNotificationUrl")
    body = {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": iso(sub.expiration),
        "tenantId": TENANT_ID,
        "clientState": sub.client_state,
        "lifecycleEvent": event,
    }
    with sb.state.lock:
        sub.lifecycle.append(event)
        if event == "reauthorizationRequired":
            sub.reauthorization_required = True
    delivery = _post(sb, event, sub.lifecycle_url, {"value": [body]}, deliver)
    if event == "subscriptionRemoved":
        with sb.state.lock:
            sub.removed = True
    return delivery
