"""Sessions: booking, status changes, the timeline, and video calls."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, RootModel

from app.http.api.schemas.common import (
    QUERY,
    Actor,
    Cursor,
    Email,
    Page,
    SessionKind,
    SessionStatus,
    Text,
    Timezone,
)

# --- sessions ----------------------------------------------------------------------------


class SessionQuery(BaseModel):
    """Filters of the session list."""

    model_config = QUERY

    coach_id: uuid.UUID | None = None
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    status: str | None = Field(
        default=None, description="one or more statuses, comma-separated", max_length=200
    )
    provider: Annotated[str, Field(max_length=32)] | None = None
    external_id: Annotated[str, Field(max_length=1024)] | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class PageQuery(BaseModel):
    """Cursor pagination."""

    model_config = QUERY

    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Attendee(BaseModel):
    """Who books."""

    email: Email
    name: Annotated[str, Field(max_length=200)] = ""
    client_ref: Annotated[str, Field(max_length=200)] | None = None


class Recurrence(BaseModel):
    """A weekly series: `count` occurrences or `until` a date (one of the two)."""

    freq: Literal["weekly"]
    count: Annotated[int, Field(ge=1, le=52)] | None = None
    until: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None


class Booking(BaseModel):
    """A booking in free time: `end_at` or `duration_minutes`."""

    coach_id: uuid.UUID
    attendee: Attendee
    title: Annotated[str, Field(min_length=1, max_length=500)]
    start_at: AwareDatetime
    end_at: AwareDatetime | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=24 * 60)] | None = None
    timezone: Timezone
    kind: SessionKind = "video"
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    notes: Annotated[str, Field(min_length=1, max_length=10000)] | None = None
    recurrence: Recurrence | None = None


class Reschedule(BaseModel):
    """New times: `end_at` or `duration_minutes`."""

    start_at: AwareDatetime
    end_at: AwareDatetime | None = None
    duration_minutes: Annotated[int, Field(ge=5, le=24 * 60)] | None = None


class StatusChange(BaseModel):
    """Who changes the status and why; `scope: following` covers the rest of a series."""

    reason: Text | None = None
    notes: Text | None = None
    by: Actor = "platform"
    scope: Literal["this", "following"] = "this"


class OutcomeChange(StatusChange):
    """What happened: the session took place, or the attendee did not come."""

    status: Literal["completed", "no_show"]


class CoachRef(BaseModel):
    """The coach of a session."""

    id: uuid.UUID
    email: str
    name: str


class AttendeeInfo(BaseModel):
    """The attendee of a session."""

    email: str
    name: str
    client_ref: str | None
    timezone: str | None


class Payment(BaseModel):
    """What the session costs, in minor units."""

    amount: int
    currency: str | None


class Cancellation(BaseModel):
    """When, by whom and why a session was given up."""

    at: datetime | None
    by: str | None
    reason: str | None


class Attendance(BaseModel):
    """What the call recorded."""

    actual_start: datetime | None
    actual_end: datetime | None
    attended: bool | None


class Link(BaseModel):
    """The session at one provider."""

    provider: str
    external_id: str | None
    active: bool
    state: str
    last_error: str | None
    synced_version: int


class SessionOut(BaseModel):
    """A session with its coach, attendee, payment, attendance and provider links."""

    id: uuid.UUID
    status: SessionStatus
    title: str
    reason: str | None
    notes: str | None
    kind: str
    location: str | None
    start_at: datetime
    end_at: datetime
    timezone: str
    coach: CoachRef
    attendee: AttendeeInfo
    guests: list[dict[str, Any]]
    meeting_url: str | None
    payment_status: str
    payment: Payment | None
    series_id: uuid.UUID | None
    version: int
    source: str
    needs_review: bool
    cancellation: Cancellation | None
    attendance: Attendance
    links: list[Link]
    created_at: datetime
    updated_at: datetime


class SessionPage(Page):
    """A page of sessions, by start."""

    items: list[SessionOut]


class Series(BaseModel):
    """A weekly series just booked."""

    series_id: uuid.UUID
    items: list[SessionOut]


class Booked(RootModel[SessionOut | Series]):
    """The session booked, or the weekly series (its `series_id` and every occurrence)."""


class Event(BaseModel):
    """One timeline entry."""

    id: int
    at: datetime
    kind: str
    source: str
    actor: str | None
    version: int
    applied: bool
    data: dict[str, Any]


class EventPage(Page):
    """A page of the timeline, oldest first."""

    items: list[Event]


# --- calls -------------------------------------------------------------------------------


class JoinRequest(BaseModel):
    """Who joins."""

    participant: Literal["coach", "attendee"]


class JoinToken(BaseModel):
    """A meeting token valid inside the room's window."""

    url: str | None
    token: str
    opens_at: datetime
    closes_at: datetime


class Span(BaseModel):
    """Start, end and length."""

    start: datetime | None
    end: datetime | None
    duration_seconds: int | None


class CallSummary(BaseModel):
    """Scheduled against actual times, the call's outcome, who was there, its timeline."""

    session_id: uuid.UUID
    status: SessionStatus
    call_status: Literal["scheduled", "in_progress", "completed", "interrupted", "no-show"]
    scheduled: Span
    actual: Span
    participants: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
