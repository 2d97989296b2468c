"""Push channels on calendars' events: watch, stop, who still gets notifications."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.google_models import Channel, GoogleError

DEFAULT_CHANNEL_TTL = timedelta(hours=1)
MAX_CHANNEL_TTL = timedelta(days=7)
_CHANNEL_TYPES = ("web_hook", "webhook")


def resource_id(calendar_id: str) -> str:
    """The stable, opaque id of a calendar's events collection."""
    return base64.urlsafe_b64encode(hashlib.sha256(calendar_id.encode()).digest()[:18]).decode()


def _expiration(body: dict[str, Any], now: datetime) -> datetime:
    """`expiration` (ms since the epoch): 1 h when absent, at most 7 days ahead."""
    if body.get("expiration") is None:
        return now + DEFAULT_CHANNEL_TTL
    try:
        ms = int(body["expiration"])
    except (TypeError, ValueError) as err:
        raise GoogleError(400, "invalid", "Invalid expiration.") from err
    expiration = datetime.fromtimestamp(ms / 1000, now.tzinfo)
    if expiration <= now:
        raise GoogleError(400, "invalid", "Channel expiration is in the past.")
    return min(expiration, now + MAX_CHANNEL_TTL)


class ChannelStore:
    """The channels, by id, behind the sandbox's lock."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock, self.clock = lock, clock
        self.by_id: dict[str, Channel] = {}

    def watch(self, calendar_id: str, account: str, body: dict[str, Any]) -> Channel:
        """events.watch: a new channel on the calendar's events."""
        channel_id, address = body.get("id"), body.get("address")
        if not isinstance(channel_id, str) or not channel_id or len(channel_id) > 64:
            raise GoogleError(400, "required", "Channel id is required (at most 64 characters).")
        if body.get("type") not in _CHANNEL_TYPES:
            raise GoogleError(400, "invalid", f"Invalid channel type: {body.get('type')}")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise GoogleError(400, "invalid", "Invalid channel address.")
        token, params = body.get("token"), body.get("params") or {}
        if not isinstance(params, dict):
            raise GoogleError(400, "invalid", "params must be an object.")
        now = self.clock()
        with self.lock:
            if channel_id in self.by_id:
                raise GoogleError(400, "channelIdNotUnique", f"Channel id {channel_id} not unique")
            channel = Channel(
                channel_id,
                resource_id(calendar_id),
                calendar_id,
                account,
                address,
                None if token is None else str(token),
                _expiration(body, now),
                now,
                {str(k): str(v) for k, v in params.items()},
            )
            self.by_id[channel_id] = channel
            return channel

    def stop(self, account: str, channel_id: Any, resource: Any) -> Channel:
        """channels.stop: 404 for a channel that is unknown, someone else's or stopped."""
        with self.lock:
            channel = self.by_id.get(channel_id) if isinstance(channel_id, str) else None
            if (
                channel is None
                or channel.stopped
                or channel.resource_id != resource
                or channel.account != account
            ):
                raise GoogleError(
                    404, "notFound", f"Channel '{channel_id}' not found for project '0'"
                )
            channel.stopped = True
            return channel

    def get(self, channel_id: str) -> Channel | None:
        """A channel by id."""
        with self.lock:
            return self.by_id.get(channel_id)

    def live(self, calendar_id: str) -> list[Channel]:
        """Channels that still get pushes for the calendar (not stopped, not expired)."""
        with self.lock:
            now = self.clock()
            return [c for c in self.by_id.values() if c.calendar_id == calendar_id and c.live(now)]

    def next_message(self, channel: Channel) -> int:
        """The channel's next X-Goog-Message-Number."""
        with self.lock:
            channel.message_number += 1
            return channel.message_number

    def dump(self) -> list[dict[str, Any]]:
        """The channels for the control plane."""
        with self.lock:
            now = self.clock()
            return [
                {
                    **c.to_json(),
                    "calendarId": c.calendar_id,
                    "address": c.address,
                    "live": c.live(now),
                    "stopped": c.stopped,
                    "messages": c.message_number,
                }
                for c in self.by_id.values()
            ]
