"""Graph change notifications: validation handshake, clientState checks, items, the connector.

A notification is only a trigger ("something changed on subscription X"); the sync job
reads the calendar's delta feed. Lifecycle notifications (reauthorizationRequired,
subscriptionRemoved, missed) arrive on the same address and become `lifecycle:<event>` items
(https://learn.microsoft.com/graph/change-notifications-delivery-webhooks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from connectors.base import Connector, Headers, InboundEvent, Reply, body_digest
from connectors.calendar import CalendarConnector, OAuth, PushItem
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.outlook import const
from connectors.outlook.oauth import OutlookOAuth
from connectors.signing import equals


def handshake(query: Mapping[str, str]) -> Reply | None:
    """Echo `validationToken` as text/plain (before any parsing or auth), or None.

    The query arrives URL-decoded, which is what Graph expects back; the body is plain
    text, so nothing is escaped, and a token over 1 KiB is refused.
    """
    if "validationToken" not in query:
        return None
    token = query["validationToken"]
    if len(token.encode("utf-8")) > const.MAX_VALIDATION_TOKEN:
        message = {"error": "invalid_request", "message": "validationToken is too long"}
        return Reply(400, body=json.dumps(message))
    return Reply(200, body=token, content_type="text/plain")


def notifications(raw: bytes) -> list[Mapping[str, Any]]:
    """The `value` items of a notification body; InvalidPayload when it is not one."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise InvalidPayload("notification body is not JSON") from err
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise InvalidPayload("notification body has no value list")
    if len(items) > const.MAX_NOTIFICATIONS:
        raise InvalidPayload(
            f"notification body lists {len(items)} items (at most {const.MAX_NOTIFICATIONS})"
        )
    found: list[Mapping[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidPayload("notification item is not an object")
        subscription = item.get("subscriptionId")
        if not isinstance(subscription, str) or not subscription:
            raise InvalidPayload("notification item without subscriptionId")
        if "\x00" in subscription:  # never a Graph id, and PostgreSQL cannot even look it up
            raise InvalidPayload("notification item subscriptionId contains a NUL character")
        found.append(item)
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def state_of(item: Mapping[str, Any]) -> str:
    """`lifecycle:<event>` for lifecycle items, else `changed` (created/updated/deleted)."""
    lifecycle = _text(item.get("lifecycleEvent"))
    return f"lifecycle:{lifecycle}" if lifecycle else "changed"


def push_items(raw: bytes) -> list[PushItem]:
    """One PushItem per notification (several subscriptions may share one request)."""
    return [
        PushItem(
            channel_id=str(item["subscriptionId"]),
            token=_text(item.get("clientState")),
            state=state_of(item),
            resource_id=_text(item.get("resource")),
        )
        for item in notifications(raw)
    ]


def verify(raw: bytes, secrets: Sequence[str]) -> None:
    """Every item's clientState must equal one of the secrets (constant time).

    The hub's push route checks each item against its own subscription's secret instead
    (app/http/pushes.py); this whole-body check is for callers holding one secret set.
    """
    usable = [s for s in secrets if s]
    if not usable:
        raise InvalidSignature("no clientState secret is known")
    try:
        items = notifications(raw)
    except InvalidPayload as err:
        raise InvalidSignature(f"not a notification: {err.reason}") from err
    for item in items:
        state = _text(item.get("clientState"))
        if state is None:
            raise InvalidSignature("notification item without clientState")
        ok = False
        for secret in usable:
            ok |= equals(secret, state)  # no early exit: timing says nothing about which
        if not ok:
            raise InvalidSignature("clientState does not match")


class OutlookConnector(Connector, CalendarConnector):
    """Outlook (Microsoft Graph): notifications in (triggers), MSAL OAuth, delta and writes."""

    #: Graph event subscriptions live at most 4230 minutes: renew at half-life
    channel_renew_before = timedelta(minutes=4230 // 2)

    slug: ClassVar[str] = const.SLUG
    stored_headers: ClassVar[tuple[str, ...]] = ("content-type",)
    #: Graph wants an answer within 3 s; 202 says "persisted, processing later"
    accepted_status: ClassVar[int] = 202
    #: items are checked against each subscription's clientState, not a hub-wide secret
    needs_secret: ClassVar[bool] = False
    scopes: Sequence[str] = const.SCOPES

    def handshake(self, query: Mapping[str, str], headers: Headers, raw: bytes) -> Reply | None:
        """Answer Graph's validation request (notification and lifecycle URLs alike)."""
        return handshake(query)

    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        """Every item's clientState must match one of the secrets."""
        verify(raw, secrets)

    def identify(self, headers: Headers, raw: bytes) -> tuple[str, str]:
        """Return (`graph:notification`, `sha256:<body digest>`); never raises."""
        return "graph:notification", "sha256:" + body_digest(raw)

    def parse(self, raw: bytes, headers: Headers) -> InboundEvent:
        """A trigger without changes; InvalidPayload when the body is not a notification."""
        notifications(raw)
        return InboundEvent("notification", ())

    def push_items(self, headers: Mapping[str, str], raw: bytes) -> list[PushItem]:
        """The items of a notification request; InvalidPayload when unreadable."""
        return push_items(raw)

    def oauth(self, settings: Mapping[str, str]) -> OAuth:
        """The MSAL flow for the hub's client id/secret, tenant and (sandbox) endpoints."""
        return OutlookOAuth(settings)
