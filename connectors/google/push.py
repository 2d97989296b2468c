"""Google Calendar pushes: channel-token checks, identity and parsing, and the connector itself.

A push has no body and no signature; every fact is a header, and the request is only a
trigger: the sync job reads the change feed (https://developers.google.com/calendar/api/guides/push).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import ClassVar

from connectors.base import Connector, Headers, InboundEvent
from connectors.calendar import CalendarConnector, OAuth, PushItem
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.google import const
from connectors.google.oauth import GoogleOAuth
from connectors.signing import equals


def _header(headers: Headers, name: str) -> str | None:
    value = (headers.get(name) or "").strip()
    return value or None


def channel_of(headers: Headers) -> str | None:
    """The channel a push is about (X-Goog-Channel-ID), or None."""
    return _header(headers, const.CHANNEL_ID_HEADER)


def resource_of(headers: Headers) -> str | None:
    """The watched resource's opaque id (X-Goog-Resource-ID), or None."""
    return _header(headers, const.RESOURCE_ID_HEADER)


def resource_state(headers: Headers) -> str:
    """X-Goog-Resource-State (`sync`, `exists`, `not_exists`), or `unknown` when missing."""
    return _header(headers, const.RESOURCE_STATE_HEADER) or "unknown"


def verify(headers: Headers, secrets: Sequence[str]) -> None:
    """Check X-Goog-Channel-Token against the channel's secret(s); raise InvalidSignature."""
    if channel_of(headers) is None:
        raise InvalidSignature("missing X-Goog-Channel-ID header")
    token = _header(headers, const.CHANNEL_TOKEN_HEADER)
    if token is None:
        raise InvalidSignature("missing X-Goog-Channel-Token header")
    usable = [s for s in secrets if s]
    if not usable:
        raise InvalidSignature("no channel secret is known for this channel")
    ok = False
    for secret in usable:
        ok |= equals(secret, token)  # no early exit: timing says nothing about which matched
    if not ok:
        raise InvalidSignature("channel token does not match")


def identify(headers: Headers) -> tuple[str, str]:
    """(`push:<state>`, `<channel id>:<message number>`); never raises.

    A push without a message number gets a unique key: it is only a trigger, so a repeat
    costs one extra sync, while a wrong shared key would drop later triggers.
    """
    state = resource_state(headers)
    channel = channel_of(headers) or "unknown"
    number = _header(headers, const.MESSAGE_NUMBER_HEADER) or f"none-{uuid.uuid4().hex}"
    return f"push:{state}", f"{channel}:{number}"


def parse(headers: Headers) -> InboundEvent:
    """The push as an event without changes (its type is the resource state)."""
    state = resource_state(headers)
    if state not in const.RESOURCE_STATES:
        raise InvalidPayload(f"unknown X-Goog-Resource-State {state[:40]!r}")
    return InboundEvent(event_type=state, changes=())


def push_items(headers: Headers) -> list[PushItem]:
    """The one item of a push: `sync` stays `sync`; `exists`/`not_exists` mean `changed`."""
    channel = channel_of(headers)
    if channel is None:
        raise InvalidPayload("missing X-Goog-Channel-ID header")
    state = parse(headers).event_type
    return [
        PushItem(
            channel_id=channel,
            token=_header(headers, const.CHANNEL_TOKEN_HEADER),
            state="sync" if state == "sync" else "changed",
            resource_id=resource_of(headers),
        )
    ]


class GoogleConnector(Connector, CalendarConnector):
    """Google Calendar: channel pushes in (triggers), OAuth, change feeds and event writes."""

    slug: ClassVar[str] = const.SLUG
    stored_headers: ClassVar[tuple[str, ...]] = const.STORED_HEADERS
    accepted_status: ClassVar[int] = 200
    #: pushes are checked against the per-channel token the hub stored, not a hub-wide secret
    needs_secret: ClassVar[bool] = False
    scopes: Sequence[str] = const.SCOPES

    @staticmethod
    def channel_of(headers: Headers) -> str | None:
        """The channel a push is about (X-Goog-Channel-ID), or None."""
        return channel_of(headers)

    @staticmethod
    def resource_state(headers: Headers) -> str:
        """X-Goog-Resource-State, or `unknown`."""
        return resource_state(headers)

    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        """Compare the channel token (constant time) to the channel's secret(s)."""
        verify(headers, secrets)

    def identify(self, headers: Headers, raw: bytes) -> tuple[str, str]:
        """Return (`push:<state>`, `<channel id>:<message number>`); never raises."""
        return identify(headers)

    def parse(self, raw: bytes, headers: Headers) -> InboundEvent:
        """A trigger without changes; raise InvalidPayload for an unknown resource state."""
        return parse(headers)

    def push_items(self, headers: Mapping[str, str], raw: bytes) -> list[PushItem]:
        """The one item of a push; InvalidPayload without a channel id or known state."""
        return push_items(headers)

    def oauth(self, settings: Mapping[str, str]) -> OAuth:
        """The OAuth flow for the hub's client id/secret (and sandbox endpoints when set)."""
        return GoogleOAuth(settings)
