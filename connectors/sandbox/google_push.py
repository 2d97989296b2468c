"""Google push notifications: an empty POST per live channel, everything in X-Goog-* headers."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime

from connectors.sandbox.api import Sandbox
from connectors.sandbox.google_models import Channel
from connectors.sandbox.models import Delivery

#: the resource states Calendar sends
STATES = ("sync", "exists", "not_exists")


def headers(channel: Channel, state: str, number: int) -> dict[str, str]:
    """The headers of one notification (X-Goog-Channel-Token only when the channel has one)."""
    sent = {
        "X-Goog-Channel-ID": channel.id,
        "X-Goog-Channel-Expiration": format_datetime(
            channel.expiration.astimezone(UTC), usegmt=True
        ),
        "X-Goog-Resource-ID": channel.resource_id,
        "X-Goog-Resource-URI": channel.resource_uri,
        "X-Goog-Resource-State": state,
        "X-Goog-Message-Number": str(number),
    }
    if channel.token is not None:
        sent["X-Goog-Channel-Token"] = channel.token
    return sent


def send(sb: Sandbox, channel: Channel, state: str, *, deliver: bool = True) -> Delivery:
    """Notify one channel; a channel stopped or expired before sending gets nothing."""
    store = sb.state.google
    number = store.channels.next_message(channel)

    def hold() -> str | None:
        with sb.state.lock:
            if channel.stopped:
                return "channel stopped"
            return None if channel.live(store.clock()) else "channel expired"

    return sb.webhooks.notify(
        "google",
        state,
        channel.address,
        headers(channel, state, number),
        hold=hold,
        deliver=deliver,
    )


def changed(sb: Sandbox, calendar_id: str, *, deliver: bool = True) -> list[Delivery]:
    """`exists` to every live channel on the calendar (the hub's own writes echo too)."""
    return [
        send(sb, c, "exists", deliver=deliver) for c in sb.state.google.channels.live(calendar_id)
    ]
