"""The canonical model: SQLModel tables (DESIGN §3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id, utcnow

# deterministic constraint names: Alembic batch mode on SQLite needs them to alter tables
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# the vocabularies: one Literal each (the API's models use them), the tuples derived from it
SessionStatus = Literal[
    "requested",
    "confirmed",
    "awaiting_reschedule",
    "cancelled",
    "rejected",
    "completed",
    "no_show",
]
PaymentStatus = Literal["none", "pending", "paid", "failed", "refunded", "partially_refunded"]
SessionKind = Literal["video", "phone", "in_person"]
DeliveryState = Literal["received", "waiting", "processed", "ignored", "failed"]
OutboundState = Literal["pending", "delivered", "failed"]
SESSION_STATUSES: tuple[str, ...] = get_args(SessionStatus)
PAYMENT_STATUSES: tuple[str, ...] = get_args(PaymentStatus)
SESSION_KINDS: tuple[str, ...] = get_args(SessionKind)
LINK_STATES = ("pending", "synced", "error")
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)
CONNECTION_STATES = ("active", "needs_reauth", "revoked")
OUTBOUND_STATES: tuple[str, ...] = get_args(OutboundState)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class Coach(SQLModel, table=True):
    """A host: who sessions are with, and their policies."""

    __tablename__ = "coaches"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    cancellation_notice_minutes: int = 1440
    reminder_offsets_minutes: list[int] = _json(lambda: [1440, 60, 15])
    buffer_minutes: int = 0
    min_notice_minutes: int = 60
    horizon_days: int = 60
    auto_confirm: bool = True
    requires_payment: bool = False
    calendar_delete_policy: str = Field(default="flag", max_length=16)
    calcom_user_id: str | None = Field(default=None, max_length=64)
    calcom_username: str | None = Field(default=None, max_length=200)
    calcom_event_type_id: int | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Session(SQLModel, table=True):
    """One appointment: the truth every provider is reconciled to."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_coach_start", "coach_id", "start_at"),
        Index("ix_sessions_needs_review", "needs_review"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    coach_id: uuid.UUID = Field(foreign_key="coaches.id")
    attendee_email: str = Field(default="", max_length=320, index=True)
    attendee_name: str = Field(default="", max_length=200)
    attendee_client_ref: str | None = Field(default=None, max_length=200)
    attendee_timezone: str | None = Field(default=None, max_length=64)
    guests: list[dict[str, Any]] = _json(list)
    title: str = Field(default="", max_length=500)
    reason: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None)
    kind: str = Field(default="video", max_length=16)
    location: str | None = Field(default=None, max_length=1000)
    start_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    end_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    timezone: str = Field(default="UTC", max_length=64)
    status: str = Field(default="requested", max_length=32, index=True)
    payment_status: str = Field(default="none", max_length=32)
    payment_amount: int | None = None
    payment_currency: str | None = Field(default=None, max_length=8)
    meeting_url: str | None = Field(default=None, max_length=2000)
    series_id: uuid.UUID | None = Field(default=None, index=True)
    version: int = 1
    source: str = Field(default="api", max_length=32)
    source_clock: dict[str, str] = _json(dict)
    cancelled_at: datetime | None = _ts()
    cancelled_by: str | None = Field(default=None, max_length=320)
    cancellation_reason: str | None = Field(default=None, max_length=2000)
    actual_start: datetime | None = _ts()
    actual_end: datetime | None = _ts()
    attended: bool | None = None
    needs_review: bool = False
    created_at: datetime = _created()
    updated_at: datetime = _created()


class ProviderLink(SQLModel, table=True):
    """One session at one provider: its id there and how far it is in sync."""

    __tablename__ = "provider_links"
    __table_args__ = (
        UniqueConstraint("provider", "external_id", name="uq_provider_links_external"),
        Index("ix_provider_links_session", "session_id", "provider"),
        Index("ix_provider_links_state", "state"),
        Index("ix_provider_links_external_id", "external_id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id")
    provider: str = Field(max_length=32)
    external_id: str | None = Field(default=None, max_length=1024)
    active: bool = True
    remote_version: str | None = Field(default=None, max_length=1024)
    synced_version: int = 0
    state: str = Field(default="pending", max_length=16)
    last_error: str | None = Field(default=None)
    data: dict[str, Any] = _json(dict)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class WebhookDelivery(SQLModel, table=True):
    """The inbox: every verified delivery, stored before it is acknowledged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("provider", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
        Index("ix_webhook_deliveries_state_received", "state", "received_at"),
        Index("ix_webhook_deliveries_provider_received", "provider", "received_at"),
        Index("ix_webhook_deliveries_received", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    dedupe_key: str = Field(max_length=512)
    event_type: str = Field(default="unknown", max_length=128)
    received_at: datetime = _created()
    headers: dict[str, str] = _json(dict)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(default="received", max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None)
    processed_at: datetime | None = _ts()
    session_id: uuid.UUID | None = Field(default=None, index=True)


class CalendarConnection(SQLModel, table=True):
    """A coach's linked Google or Outlook account."""

    __tablename__ = "calendar_connections"
    __table_args__ = (
        UniqueConstraint("coach_id", "provider", "account_email", name="uq_connection_account"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    coach_id: uuid.UUID = Field(foreign_key="coaches.id", index=True)
    provider: str = Field(max_length=32)
    account_email: str = Field(default="", max_length=320)
    tokens_encrypted: str | None = Field(default=None)
    scopes: list[str] = _json(list)
    state: str = Field(default="active", max_length=16)
    destination_calendar: str | None = Field(default=None, max_length=1024)
    busy_calendars: list[str] = _json(list)
    #: calendars the account can see (refreshed by the sync job; the settings page lists them)
    calendars: list[dict[str, Any]] = _json(list)
    #: how sessions are written: send_updates (none/all/externalOnly), invite_attendee
    options: dict[str, Any] = _json(dict)
    last_synced_at: datetime | None = _ts()
    last_error: str | None = Field(default=None)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class CalendarFeed(SQLModel, table=True):
    """One calendar of a connection the hub reads: its change cursor and push channel."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (UniqueConstraint("connection_id", "calendar_id", name="uq_feed_calendar"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    connection_id: uuid.UUID = Field(foreign_key="calendar_connections.id", index=True)
    calendar_id: str = Field(max_length=1024)
    cursor: str | None = Field(default=None)
    channel_id: str | None = Field(default=None, max_length=256, unique=True)
    channel_resource_id: str | None = Field(default=None, max_length=1024, index=True)
    channel_token_encrypted: str | None = Field(default=None)
    channel_expires_at: datetime | None = _ts()
    #: a push said something changed and no sync has read it yet (durable before the 2xx)
    dirty_since: datetime | None = _ts()
    last_synced_at: datetime | None = _ts()
    last_error: str | None = Field(default=None)


class BusyInterval(SQLModel, table=True):
    """Time a coach's own calendar blocks (events that are not the hub's)."""

    __tablename__ = "busy_intervals"
    __table_args__ = (
        UniqueConstraint("feed_id", "event_id", name="uq_busy_event"),
        Index("ix_busy_intervals_coach_start", "coach_id", "start_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    coach_id: uuid.UUID = Field(foreign_key="coaches.id")
    feed_id: uuid.UUID = Field(foreign_key="calendar_feeds.id", index=True)
    event_id: str = Field(max_length=1024)
    start_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    end_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AvailabilityRule(SQLModel, table=True):
    """Weekly hours in the coach's timezone (weekday 0 = Monday)."""

    __tablename__ = "availability_rules"

    id: int | None = Field(default=None, primary_key=True)
    coach_id: uuid.UUID = Field(foreign_key="coaches.id", index=True)
    weekday: int
    start_time: str = Field(max_length=5)
    end_time: str = Field(max_length=5)


class AvailabilityOverride(SQLModel, table=True):
    """A dated addition (extra hours) or block (a day or a range off)."""

    __tablename__ = "availability_overrides"

    id: int | None = Field(default=None, primary_key=True)
    coach_id: uuid.UUID = Field(foreign_key="coaches.id", index=True)
    on_date: date
    available: bool = True
    start_time: str | None = Field(default=None, max_length=5)
    end_time: str | None = Field(default=None, max_length=5)


class SessionEvent(SQLModel, table=True):
    """The timeline and audit trail of a session."""

    __tablename__ = "session_events"
    __table_args__ = (Index("ix_session_events_session_at", "session_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id")
    at: datetime = _created()
    kind: str = Field(max_length=64)
    source: str = Field(default="api", max_length=32)
    actor: str | None = Field(default=None, max_length=320)
    version: int = 0
    applied: bool = True
    data: dict[str, Any] = _json(dict)


class Reminder(SQLModel, table=True):
    """One reminder of a session, for one recipient at one offset."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint(
            "session_id", "offset_minutes", "recipient", "channel", name="uq_reminders_slot"
        ),
        Index("ix_reminders_due", "sent_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: uuid.UUID = Field(foreign_key="sessions.id")
    offset_minutes: int
    recipient: str = Field(max_length=16)
    channel: str = Field(default="email", max_length=16)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()


class ApiKey(SQLModel, table=True):
    """A platform's API key; only its SHA-256 hash is stored."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = _json(lambda: ["api"])
    created_at: datetime = _created()
    revoked_at: datetime | None = _ts()
    last_used_at: datetime | None = _ts()


class KeyValue(SQLModel, table=True):
    """Small named state the sweeps keep between runs (cursors, last run times)."""

    __tablename__ = "kv_state"

    name: str = Field(primary_key=True, max_length=200)
    value: str = Field(default="")
    updated_at: datetime = _created()


class WebhookEndpoint(SQLModel, table=True):
    """A platform URL the hub sends signed events to (Standard Webhooks)."""

    __tablename__ = "webhook_endpoints"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=2000)
    events: list[str] = _json(list)
    secret_encrypted: str
    active: bool = True
    created_at: datetime = _created()
    disabled_reason: str | None = Field(default=None, max_length=500)


class OutboundMessage(SQLModel, table=True):
    """The outbox: one event for one endpoint, written in the transaction of the change."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_due", "state", "next_attempt_at"),
        Index("ix_outbound_messages_endpoint", "endpoint_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id")
    msg_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = _json(dict)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    last_status: int | None = None
    last_error: str | None = Field(default=None)
    created_at: datetime = _created()
    delivered_at: datetime | None = _ts()


class ErasureLog(SQLModel, table=True):
    """The audit trail of personal-data erasures: who, when, how much; never the e-mail."""

    __tablename__ = "erasure_log"

    id: int | None = Field(default=None, primary_key=True)
    erased_at: datetime = _created()
    #: keyed hash (HMAC-SHA256 with the secret key) of the normalised e-mail
    subject_hash: str = Field(max_length=64, index=True)
    #: the API key name (or `cli`) that asked for it
    actor: str = Field(default="", max_length=100)
    #: rows changed per kind (sessions, events, deliveries, outbound messages, …)
    counts: dict[str, int] = _json(dict)


TALLY_OUTCOMES = ("rejected", "duplicate", "drift")


class WebhookTally(SQLModel, table=True):
    """Hourly counts of what the inbox does not keep: refused and duplicate deliveries, drift."""

    __tablename__ = "webhook_tallies"
    __table_args__ = (
        UniqueConstraint("hour", "provider", "outcome", name="uq_webhook_tallies_slot"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hour: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    provider: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    count: int = 0
