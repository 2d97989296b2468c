"""The sandbox's configuration and its thread-safe in-memory state shared by every provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.sandbox.google_store import GoogleStore
from connectors.sandbox.models import (
    Booking,
    DailyWebhook,
    Delivery,
    Meeting,
    RequestRecord,
    Room,
    TokenGrant,
    utcnow,
)
from connectors.sandbox.outlook_store import OutlookStore

#: default secrets and keys, so a demo works without flags (never real credentials)
DEFAULT_CALCOM_WEBHOOK_SECRET = "sandbox-calcom-webhook-secret"  # noqa: S105 - sandbox default
DEFAULT_DAILY_WEBHOOK_SECRET = base64.b64encode(b"sessionhub-sandbox-daily-hmac-32").decode()
DEFAULT_API_KEYS: Mapping[str, str] = {"calcom": "cal_sandbox_key", "daily": "sandbox-daily-key"}
DEFAULT_GOOGLE_CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
DEFAULT_GOOGLE_CLIENT_SECRET = "sandbox-google-client-secret"  # noqa: S105 - sandbox default
DEFAULT_OUTLOOK_CLIENT_ID = "5a1b0c0e-5e55-4b0b-a000-5a4db0c0ffee"
DEFAULT_OUTLOOK_CLIENT_SECRET = "sandbox-outlook-client-secret"  # noqa: S105 - sandbox default
DEFAULT_ORGANIZER: Mapping[str, Any] = {
    "id": 1,
    "name": "Sandbox Coach",
    "email": "coach@sandbox.test",
    "username": "sandbox-coach",
    "timeZone": "UTC",
}
DAILY_EVENT_TYPES = (
    "meeting.started",
    "meeting.ended",
    "participant.joined",
    "participant.left",
    "recording.ready-to-download",
)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox is reached by the hub and how it reaches the hub."""

    hub_url: str | None = None
    calcom_webhook_secret: str | None = DEFAULT_CALCOM_WEBHOOK_SECRET
    daily_webhook_secret: str | None = DEFAULT_DAILY_WEBHOOK_SECRET
    api_keys: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_API_KEYS))
    send_webhooks: bool = True
    background_webhooks: bool = False
    webhook_timeout: float = 5.0
    organizer: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_ORGANIZER))
    #: Cal.com event type ids whose bookings wait for the host's confirmation
    confirm_event_types: frozenset[int] = frozenset()
    #: the one OAuth client Google's emulation knows
    google_client_id: str = DEFAULT_GOOGLE_CLIENT_ID
    google_client_secret: str = DEFAULT_GOOGLE_CLIENT_SECRET
    #: the one app registration the Microsoft identity emulation knows
    outlook_client_id: str = DEFAULT_OUTLOOK_CLIENT_ID
    outlook_client_secret: str = DEFAULT_OUTLOOK_CLIENT_SECRET


def _match(value: str, wanted: str | None) -> bool:
    return wanted is None or value.upper() in {w.strip().upper() for w in wanted.split(",")}


class SandboxState:
    """Everything the emulated providers hold, behind one re-entrant lock."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self._token_key = secrets.token_bytes(32)
        self.hub_url: str | None = config.hub_url
        self.reset()

    def reset(self) -> None:
        """Forget everything but the hub URL, and re-seed the Daily webhook."""
        with self.lock:
            hub_url, self.hub_url = self.hub_url, None
            self.rooms: dict[str, Room] = {}
            self.tokens: list[TokenGrant] = []
            self.meetings: list[Meeting] = []
            self.daily_webhooks: dict[str, DailyWebhook] = {}
            self.bookings: dict[str, Booking] = {}
            self.google = GoogleStore(self.lock, self.now)
            self.outlook = OutlookStore(self.lock, self.now)
            self.requests: list[RequestRecord] = []
            self.outbox: list[Delivery] = []
            self._ids = itertools.count(1)
            self._booking_ids = itertools.count(1001)
            self.set_hub_url(hub_url)

    def now(self) -> datetime:
        """The sandbox clock."""
        return self.clock()

    def next_id(self) -> int:
        """A sequence number for log rows and deliveries."""
        with self.lock:
            return next(self._ids)

    def next_booking_id(self) -> int:
        """Cal.com's numeric booking id."""
        with self.lock:
            return next(self._booking_ids)

    def set_hub_url(self, hub_url: str | None) -> None:
        """Point webhooks at a (new) hub; seeds or moves the Daily webhook."""
        with self.lock:
            old = f"{self.hub_url}/webhooks/daily" if self.hub_url else None
            self.hub_url = hub_url.rstrip("/") if hub_url else None
            if not self.hub_url:
                return
            url = f"{self.hub_url}/webhooks/daily"
            moved = [w for w in self.daily_webhooks.values() if w.url == old]
            for hook in moved:
                hook.url = url
            if not self.daily_webhooks:
                self.add_daily_webhook(url)

    def add_daily_webhook(
        self, url: str, secret: str | None = None, event_types: Iterable[str] = DAILY_EVENT_TYPES
    ) -> DailyWebhook:
        """Register a Daily webhook (the seed uses the configured secret)."""
        with self.lock:
            now = self.now()
            hook = DailyWebhook(
                uuid=str(uuid.uuid4()),
                url=url,
                hmac=secret or self.config.daily_webhook_secret,
                event_types=list(event_types),
                created_at=now,
                updated_at=now,
            )
            self.daily_webhooks[hook.uuid] = hook
            return hook

    def add_room(
        self, name: str, privacy: str = "public", properties: Mapping[str, Any] | None = None
    ) -> Room:
        """Create a Daily room (the caller checks the name is free)."""
        with self.lock:
            room = Room(str(uuid.uuid4()), name, privacy, dict(properties or {}), self.now())
            self.rooms[name] = room
            return room

    def issue_token(self, claims: Mapping[str, Any], issued_by: str = "api") -> TokenGrant:
        """Mint an opaque Daily meeting token and remember its claims."""
        packed = json.dumps(dict(claims), separators=(",", ":"), sort_keys=True).encode()
        body = base64.urlsafe_b64encode(packed).rstrip(b"=")
        mac = hmac.new(self._token_key, body, hashlib.sha256).hexdigest()
        with self.lock:
            grant = TokenGrant(f"{body.decode()}.{mac}", dict(claims), self.now(), issued_by)
            self.tokens.append(grant)
            return grant

    def log_request(self, **fields: Any) -> RequestRecord:
        """Append one answered provider call to the request log."""
        with self.lock:
            record = RequestRecord(id=self.next_id(), time=self.now(), **fields)
            self.requests.append(record)
            return record

    def requests_matching(
        self, provider: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RequestRecord]:
        """Logged calls by provider, method (`POST` or `POST,DELETE`) and path prefix."""
        with self.lock:
            return [
                r
                for r in self.requests
                if provider in (None, r.provider)
                and _match(r.method, method)
                and (path is None or r.path.startswith(path))
            ]

    def count(
        self, provider: str | None = None, method: str | None = None, path: str | None = None
    ) -> int:
        """How many logged calls match."""
        return len(self.requests_matching(provider, method, path))

    def writes(self, provider: str | None = None) -> int:
        """How many logged calls changed something (not GET/HEAD/OPTIONS)."""
        return self.count(provider, "POST,PUT,PATCH,DELETE")

    def deliveries(self, provider: str | None = None, result: str | None = None) -> list[Delivery]:
        """Outbox rows by provider and result."""
        with self.lock:
            return [
                d
                for d in self.outbox
                if provider in (None, d.provider) and result in (None, d.result)
            ]
