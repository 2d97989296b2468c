"""The records the emulated providers keep: rooms, tokens, meetings, webhooks, bookings, logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: the sandbox's Daily domain id
DOMAIN_ID = "00000000-0000-4000-8000-5a4db0c00001"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_ms(value: datetime) -> str:
    """`2024-01-01T10:00:00.000Z`: how Cal.com's API and Daily's REST objects write times."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_s(value: datetime) -> str:
    """`2024-01-01T10:00:00Z`: how Cal.com's booking webhooks write start and end times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: Any) -> datetime:
    """An ISO 8601 string with an offset as aware UTC; ValueError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an ISO 8601 datetime string")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return parsed.astimezone(UTC)


@dataclass
class Room:
    """A Daily room."""

    id: str
    name: str
    privacy: str
    properties: dict[str, Any]
    created_at: datetime
    api_created: bool = True

    def to_json(self) -> dict[str, Any]:
        """The room as Daily's REST API returns it."""
        return {
            "id": self.id,
            "name": self.name,
            "api_created": self.api_created,
            "privacy": self.privacy,
            "url": f"https://sandbox.daily.co/{self.name}",
            "created_at": iso_ms(self.created_at),
            "config": dict(self.properties),
        }


@dataclass
class TokenGrant:
    """A Daily meeting token and the claims it was issued with."""

    token: str
    claims: dict[str, Any]
    issued_at: datetime
    issued_by: str = "api"

    def to_json(self) -> dict[str, Any]:
        """The grant for the control plane."""
        return {**self.__dict__, "issued_at": iso_ms(self.issued_at)}


@dataclass
class Participant:
    """One join of a Daily meeting (`participant_id` is the join's session id)."""

    user_id: str
    participant_id: str
    user_name: str
    join_time: int
    duration: int
    owner: bool = False


@dataclass
class Meeting:
    """A Daily meeting session in a room."""

    id: str
    room: str
    start_time: int
    duration: int
    ongoing: bool
    participants: list[Participant]

    def to_json(self) -> dict[str, Any]:
        """The meeting as `GET /meetings` returns it."""
        people = [{k: v for k, v in p.__dict__.items() if k != "owner"} for p in self.participants]
        return {
            "id": self.id,
            "room": self.room,
            "start_time": self.start_time,
            "duration": self.duration,
            "ongoing": self.ongoing,
            "max_participants": len({p.user_id for p in self.participants}),
            "participants": people,
        }


@dataclass
class DailyWebhook:
    """A Daily webhook subscription; FAILED after 3 consecutive failed deliveries."""

    uuid: str
    url: str
    hmac: str | None
    event_types: list[str]
    created_at: datetime
    updated_at: datetime
    state: str = "ACTIVE"
    failed_count: int = 0
    retry_type: str = "circuit-breaker"
    basic_auth: str | None = None
    last_moment_pushed: datetime | None = None
    domain_id: str = DOMAIN_ID

    def to_json(self) -> dict[str, Any]:
        """The webhook as `GET /webhooks` returns it."""
        pushed = self.last_moment_pushed
        return {
            "uuid": self.uuid,
            "url": self.url,
            "hmac": self.hmac,
            "basicAuth": self.basic_auth,
            "retryType": self.retry_type,
            "eventTypes": list(self.event_types),
            "state": self.state,
            "failedCount": self.failed_count,
            "lastMomentPushed": iso_ms(pushed) if pushed else None,
            "domainId": self.domain_id,
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.updated_at),
        }


@dataclass
class RequestRecord:
    """One provider API call the sandbox answered."""

    id: int
    provider: str
    method: str
    path: str
    query: dict[str, str]
    status: int
    time: datetime
    body: Any = None
    fault: bool = False
    batch: bool = False  # one call of a batch request (the batch itself is logged too)

    def to_json(self) -> dict[str, Any]:
        """The record for the control plane."""
        return {**self.__dict__, "time": iso_ms(self.time)}


@dataclass
class Delivery:
    """One webhook the sandbox sent (or held back), with the hub's answer."""

    id: int
    provider: str
    event_type: str
    url: str | None
    body: Any
    result: str  # queued | delivered | failed | suppressed
    time: datetime
    status_code: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record for the control plane."""
        return {**self.__dict__, "time": iso_ms(self.time)}


@dataclass
class Booking:
    """A Cal.com booking; `status` is the API's lower-case value."""

    id: int
    uid: str
    title: str
    start: datetime
    end: datetime
    status: str
    event_type_id: int
    event_type_slug: str
    organizer: dict[str, Any]
    attendees: list[dict[str, Any]]
    location: str
    ical_uid: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    guests: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    responses: dict[str, Any] = field(default_factory=dict)
    ical_sequence: int = 0
    requires_confirmation: bool = False
    rescheduled_from_uid: str | None = None
    rescheduled_to_uid: str | None = None
    rescheduling_reason: str | None = None
    cancellation_reason: str | None = None
    rejection_reason: str | None = None
    cancelled_by_email: str | None = None
    absent_host: bool = False
    video: dict[str, Any] | None = None

    @property
    def length(self) -> int:
        """Duration in minutes."""
        return int((self.end - self.start).total_seconds() // 60)
