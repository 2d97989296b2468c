"""Calendar links, the inbox, the dead-letter list and outbound webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.http.api.schemas.common import (
    QUERY,
    Cursor,
    DeliveryState,
    OutboundState,
    Page,
)

# --- calendars ---------------------------------------------------------------------------


class LinkUrlRequest(BaseModel):
    """Which calendar provider to link."""

    provider: Literal["google", "outlook"]


class LinkUrl(BaseModel):
    """A signed URL the coach opens to link a calendar."""

    url: str
    expires_at: datetime


class Feed(BaseModel):
    """One calendar the hub reads."""

    calendar_id: str
    last_synced_at: datetime | None
    channel_expires_at: datetime | None
    pending_changes: bool


class Connection(BaseModel):
    """A linked calendar account and its health."""

    id: uuid.UUID
    provider: str
    account_email: str
    state: str
    destination_calendar: str | None
    busy_calendars: list[str]
    last_synced_at: datetime | None
    last_error: str | None
    feeds: list[Feed]


class ConnectionPage(Page):
    """A coach's linked calendars (one page)."""

    items: list[Connection]


class UnlinkQuery(BaseModel):
    """keep_events=true leaves the hub's events in the calendar."""

    model_config = QUERY

    keep_events: Literal["true", "false"] = "false"


class Unlinking(BaseModel):
    """The unlink is queued."""

    id: uuid.UUID
    status: Literal["unlinking"]
    keep_events: bool


class FeedUrl(BaseModel):
    """The coach's secret calendar feed URL."""

    url: str


# --- deliveries and jobs -----------------------------------------------------------------


class DeliveryQuery(BaseModel):
    """Filters of the inbox."""

    model_config = QUERY

    provider: Annotated[str, Field(max_length=32)] | None = None
    state: DeliveryState | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Delivery(BaseModel):
    """One inbox row (without its body)."""

    id: int
    provider: str
    event_type: str
    dedupe_key: str
    state: DeliveryState
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None
    session_id: uuid.UUID | None


class DeliveryPage(Page):
    """A page of the inbox, newest first."""

    items: list[Delivery]


class Replay(Delivery):
    """The delivery, with its replay queued."""

    replay: Literal["queued"]


class FailedJob(BaseModel):
    """A job that exhausted its retries."""

    id: str
    key: str
    function: str
    args: list[Any]
    error: str
    traceback: str
    failed_at: datetime | None


class FailedJobPage(Page):
    """The dead-letter list, newest first."""

    items: list[FailedJob]


class Queued(BaseModel):
    """A job put back in the queue."""

    id: str
    status: Literal["queued"]


# --- outbound webhooks -------------------------------------------------------------------


class EndpointCreate(BaseModel):
    """A platform URL and the event types it wants (or ["*"])."""

    url: Annotated[
        str, Field(min_length=1, max_length=2000, pattern=r"^\s*[hH][tT][tT][pP][sS]?://")
    ]
    events: Annotated[list[str], Field(min_length=1, max_length=50)]


class Endpoint(BaseModel):
    """An endpoint (never its secret)."""

    id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    disabled_reason: str | None


class EndpointCreated(Endpoint):
    """A new endpoint with its signing secret: shown in this answer only."""

    secret: str


class EndpointPage(Page):
    """Every endpoint, oldest first."""

    items: list[Endpoint]


class MessageQuery(BaseModel):
    """Filters of an endpoint's delivery log."""

    model_config = QUERY

    state: OutboundState | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Message(BaseModel):
    """One entry of the delivery log (without the payload)."""

    id: int
    msg_id: str
    event_type: str
    state: OutboundState
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class MessagePage(Page):
    """A page of the delivery log, newest first."""

    items: list[Message]


class Resend(Message):
    """The message, with its resend queued."""

    resend: Literal["queued"]
