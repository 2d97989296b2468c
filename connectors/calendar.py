"""The contract of calendar providers (Google, Outlook): OAuth, change feeds, push channels.

A calendar connector reads a coach's calendars through a per-connection `CalendarApi` built
from an access token, and writes sessions through an `Outbound` bound to one calendar.
Everything here is provider-neutral so the engine (linking pages, sync job, channel renewal,
policies) is written once.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Outbound
from connectors.errors import ConnectorError, InvalidPayload

log = logging.getLogger(__name__)


class SyncCursorExpired(ConnectorError):  # noqa: N818 - reads as what happened
    """The stored sync token / delta link is no longer valid (Google 410): resync the window."""


@dataclass(frozen=True)
class TokenSet:
    """OAuth tokens of one connection (stored encrypted, never logged)."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...] = ()
    #: provider-specific extra state (MSAL keeps a serialized token cache here)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarInfo:
    """One calendar the account can see."""

    id: str
    name: str
    primary: bool = False
    writable: bool = False


@dataclass(frozen=True)
class CalendarEvent:
    """An event as the hub needs it: identity, version, times, whether it blocks time."""

    id: str
    calendar_id: str
    cancelled: bool
    start_at: datetime | None = None
    end_at: datetime | None = None
    all_day: bool = False
    busy: bool = True
    etag: str | None = None
    updated: datetime | None = None
    title: str | None = None
    #: the hub's tags, read back from what it wrote (private extended property)
    session_id: str | None = None
    hub_version: int | None = None


@dataclass(frozen=True)
class ChangePage:
    """Changed events since a cursor, and the cursor to use next time."""

    events: tuple[CalendarEvent, ...]
    cursor: str | None


@dataclass(frozen=True)
class Channel:
    """A push subscription to one calendar."""

    id: str
    resource_id: str
    expires_at: datetime


class CalendarApi(ABC):
    """Reads (and watches) one account's calendars with an access token."""

    @abstractmethod
    def account_email(self) -> str:
        """The e-mail of the linked account."""

    @abstractmethod
    def list_calendars(self) -> list[CalendarInfo]:
        """Calendars the account can see."""

    @abstractmethod
    def changes(
        self, calendar_id: str, cursor: str | None, window: tuple[datetime, datetime]
    ) -> ChangePage:
        """Every change since `cursor` (all of them, following pages); no cursor = full sync of
        the window. Raises SyncCursorExpired when the cursor is no longer valid."""

    @abstractmethod
    def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str, expires_at: datetime
    ) -> Channel:
        """Open a push channel to `address` carrying `token`."""

    @abstractmethod
    def stop(self, channel_id: str, resource_id: str) -> None:
        """Close a push channel (unknown channels are not an error)."""

    @abstractmethod
    def writer(self, calendar_id: str, options: Mapping[str, Any]) -> Outbound:
        """The writer of sessions into one calendar."""


class OAuth(ABC):
    """The web-server OAuth flow of one provider."""

    @abstractmethod
    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """Where to send the coach for consent (offline access, consent prompt)."""

    @abstractmethod
    def exchange(self, redirect_uri: str, code: str) -> TokenSet:
        """Trade the callback's code for tokens; AuthError when refused."""

    def begin(self, redirect_uri: str, state: str) -> tuple[str, dict[str, Any]]:
        """(consent URL, flow state to keep — encrypted — until the callback)."""
        return self.authorization_url(redirect_uri, state), {}

    def finish(
        self, redirect_uri: str, params: Mapping[str, str], flow: Mapping[str, Any]
    ) -> TokenSet:
        """Redeem the callback's parameters with the kept flow state."""
        return self.exchange(redirect_uri, params.get("code", ""))

    @abstractmethod
    def refresh(self, tokens: TokenSet) -> TokenSet:
        """Fresh tokens; AuthError (e.g. invalid_grant) means the coach must link again."""

    @abstractmethod
    def revoke(self, tokens: TokenSet) -> None:
        """Revoke the grant (best effort)."""

    @abstractmethod
    def api(self, tokens: TokenSet) -> CalendarApi:
        """The calendar API for these tokens."""


@dataclass(frozen=True)
class PushItem:
    """One push about one channel: which channel, the secret it carried, what it says."""

    channel_id: str
    token: str | None
    #: "sync" (handshake), "changed", or "lifecycle:<event>" (Graph)
    state: str
    resource_id: str | None = None


class CalendarConnector(ABC):
    """What a calendar provider offers beyond webhooks: OAuth and a calendar API."""

    scopes: Sequence[str] = ()
    #: renew a push channel when less than this is left (about half its lifetime)
    channel_renew_before: timedelta = timedelta(hours=24)

    @abstractmethod
    def push_items(self, headers: Mapping[str, str], raw: bytes) -> list[PushItem]:
        """The items of a push request (lower-case headers); InvalidPayload when unreadable."""

    @abstractmethod
    def oauth(self, settings: Mapping[str, str]) -> OAuth:
        """The OAuth flow for this hub's client id/secret and endpoints."""


def readable_events(
    provider: str,
    calendar_id: str,
    items: Iterable[Any],
    parse: Callable[[str, Mapping[str, Any]], CalendarEvent],
) -> list[CalendarEvent]:
    """The feed items that parse; an unreadable one is logged and skipped.

    Raising instead would fail the whole sync job, and the feed's cursor would never move
    past the bad event: one malformed event would stall the calendar for good.
    """
    events: list[CalendarEvent] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            events.append(parse(calendar_id, item))
        except InvalidPayload as err:
            log.warning(
                "calendar event skipped", extra={"provider": provider, "reason": err.reason}
            )
    return events
