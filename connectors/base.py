"""The connector contract and the canonical values connectors produce.

A connector is a pure translator plus a client: it verifies and parses what a provider
sends, and turns canonical sessions into provider requests. It never touches the database.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

Headers = Mapping[str, str]
"""Request headers with lower-case names."""


def lower_headers(headers: Any) -> dict[str, str]:
    """Copy any header mapping (or list of pairs) into a dict with lower-case names."""
    items = headers.items() if hasattr(headers, "items") else headers
    return {str(k).lower(): str(v) for k, v in items}


def body_digest(raw: bytes) -> str:
    """A stable fallback identity for a body: its SHA-256 hex digest."""
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Person:
    """Someone in a session, as a provider names them."""

    email: str
    name: str = ""
    timezone: str | None = None
    external_id: str | None = None
    username: str | None = None
    client_ref: str | None = None


@dataclass(frozen=True)
class LinkRef:
    """An id another provider holds for the same session, learned from a payload."""

    provider: str
    external_id: str


@dataclass(frozen=True)
class Attendance:
    """What really happened in the call."""

    actual_start: datetime | None = None
    actual_end: datetime | None = None
    attended: bool | None = None
    no_show: bool | None = None


@dataclass(frozen=True)
class Change:
    """One canonical change to one session, as reported by one provider.

    `external_id` is the source's id for the session (empty for changes made in the hub);
    `previous_external_id` the id it replaces (a Cal.com reschedule issues a new uid);
    `session_id` names the canonical session directly when the source knows it.
    Fields left as None are not changed.
    """

    source: str
    external_id: str
    event: str
    occurred_at: datetime
    previous_external_id: str | None = None
    session_id: str | None = None
    create: bool = False
    status: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    timezone: str | None = None
    title: str | None = None
    notes: str | None = None
    reason: str | None = None
    series_id: str | None = None
    kind: str | None = None
    location: str | None = None
    meeting_url: str | None = None
    coach: Person | None = None
    attendee: Person | None = None
    guests: tuple[Person, ...] = ()
    cancellation_reason: str | None = None
    cancelled_by: str | None = None
    payment_status: str | None = None
    payment_amount: int | None = None
    payment_currency: str | None = None
    attendance: Attendance | None = None
    links: tuple[LinkRef, ...] = ()
    sequence: int | None = None
    timeline_only: bool = False
    #: the provider's version marker of the object this change was read from (etag,
    #: changeKey); equal to what the hub last wrote means the change is our own echo
    remote_version: str | None = None
    #: facts that merge in any order (call attendance: earliest start, latest end); such a
    #: change bypasses the per-source ordering clock
    commutative: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundEvent:
    """A parsed delivery: its type and the canonical changes it carries.

    No changes means the delivery is recorded as `ignored` (a trigger the hub does not use).
    """

    event_type: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Reply:
    """A response a connector sends itself, before verification (handshakes, probes)."""

    status: int
    body: str = ""
    content_type: str = "application/json"


@dataclass(frozen=True)
class SessionView:
    """What the hub wants a provider to hold for one session (read-only, canonical)."""

    id: str
    version: int
    status: str
    title: str
    start_at: datetime
    end_at: datetime
    timezone: str
    kind: str
    coach_email: str
    coach_name: str
    attendee_email: str
    attendee_name: str
    meeting_url: str | None = None
    location: str | None = None
    notes: str | None = None
    attendee_timezone: str | None = None
    cancellation_reason: str | None = None
    #: provider settings of the coach (e.g. `calcom_event_type_id`)
    coach_settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether the session should exist at providers (not cancelled or rejected)."""
        return self.status not in ("cancelled", "rejected")


@dataclass(frozen=True)
class LinkState:
    """What the hub last knew of the session's object at one provider."""

    external_id: str | None
    remote_version: str | None = None
    synced_version: int = 0
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PushResult:
    """A provider object after a write: its id, version marker and what the hub should keep."""

    external_id: str
    remote_version: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    #: a join URL the provider assigned (a Daily room's URL) to write back to the session
    meeting_url: str | None = None


class Outbound(ABC):
    """Writes one session to one provider; each method is one idempotent provider call.

    create must be safe to repeat after a crash (a deterministic id, an idempotency key, or a
    lookup before create); delete treats "already gone" as done.
    """

    @abstractmethod
    def create(self, session: SessionView) -> PushResult:
        """Create the provider object for a session."""

    @abstractmethod
    def update(self, session: SessionView, link: LinkState) -> PushResult:
        """Bring the provider object in line with the session."""

    @abstractmethod
    def delete(self, session: SessionView, link: LinkState) -> None:
        """Remove (or cancel) the provider object."""


class Connector(ABC):
    """What every provider connector offers the hub."""

    slug: ClassVar[str]
    #: header names (lower case) worth keeping with a stored delivery
    stored_headers: ClassVar[tuple[str, ...]] = ("content-type",)
    #: the status answered for an accepted delivery
    accepted_status: ClassVar[int] = 200
    #: whether deliveries are verified with SESSIONHUB_<SLUG>_WEBHOOK_SECRET (the endpoint is
    #: disabled without one); calendar providers verify per-channel secrets instead
    needs_secret: ClassVar[bool] = True
    #: whether a delivery about a session the hub does not hold yet waits for it (payments
    #: often arrive before the booking) instead of failing
    waits_for_session: ClassVar[bool] = False
    #: the session fields the hub's writes carry to this provider; a change to none of them
    #: leaves its link in sync (no job, no call). None: every field may matter
    written_fields: ClassVar[frozenset[str] | None] = None

    def handshake(self, query: Mapping[str, str], headers: Headers, raw: bytes) -> Reply | None:
        """Answer a provider's probe or validation request directly, or None to go on."""
        return None

    @abstractmethod
    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        """Check the signature over the raw bytes; raise InvalidSignature(reason)."""

    @abstractmethod
    def identify(self, headers: Headers, raw: bytes) -> tuple[str, str]:
        """Return (event type, dedupe key) for a verified body; never raises."""

    @abstractmethod
    def parse(self, raw: bytes, headers: Headers) -> InboundEvent:
        """Turn a verified body into canonical changes; raise InvalidPayload(reason)."""

    def is_echo(self, change: Change, link: LinkState) -> bool:
        """Whether a change only reports the hub's own last write to this provider."""
        return change.remote_version is not None and change.remote_version == link.remote_version

    def outbound(self, api_url: str, api_key: str | None) -> Outbound | None:
        """The writer for this provider, or None when the hub does not write to it."""
        return None
