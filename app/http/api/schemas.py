"""The API's request and response models: the OpenAPI document is generated from them.

Annotating a route (the whole job for a new `/api/*` route)::

    from app.http.api.contract import contract
    from app.http.api import schemas

    @bp.post("/people/erase")
    @contract(
        {202: schemas.Erasure},           # success status → response model (None: no body)
        body=schemas.EraseRequest,        # JSON body, validated before the view runs
        query=None,                       # or a model of the query string
        errors=(404, 409),                # error statuses beyond the ones always added
        tag="people",
    )
    def erase() -> tuple[Response, int]:
        ...

`@contract` goes *below* `@bp.<method>(...)`. It always documents 401 (no or bad key) and 503
(database or queue down), adds 400 when the route has a body, a query model or a path
parameter, and 413 when it has a body; every error answer is `ErrorBody`. A body or query that
does not match its model is refused with 400 `{"error": "invalid", "message", "field"}` where
`field` is the dotted path of the first problem (`rules[0].weekday`). Path parameters are typed
by name in `contract.PATH_PARAMETERS` (add a new name there). `tests/app/test_contract.py` fails
when an `/api/*` route has no `@contract`, and runs schemathesis against the document.

Request models describe what the route accepts; the views keep their own checks of meaning
(a known timezone, end after start), which answer 400 with the same shape.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

# --- shared ------------------------------------------------------------------------------

Text = Annotated[str, Field(max_length=10000)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Timezone = Annotated[str, Field(min_length=1, max_length=64, description="an IANA timezone name")]
Clock = Annotated[
    str,
    Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", description="HH:MM, 00:00–24:00"),
]
Cursor = Annotated[str, Field(description="the `next` value of the previous page")]
SessionStatus = Literal[
    "requested",
    "confirmed",
    "awaiting_reschedule",
    "cancelled",
    "rejected",
    "completed",
    "no_show",
]
SessionKind = Literal["video", "phone", "in_person"]
PaymentStatus = Literal["none", "pending", "paid", "failed", "refunded", "partially_refunded"]
DeliveryState = Literal["received", "waiting", "processed", "ignored", "failed"]
OutboundState = Literal["pending", "delivered", "failed"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Actor = Literal["coach", "attendee", "platform"]


#: a query string names only known parameters: a typo in a filter is refused, not ignored
_QUERY = ConfigDict(extra="forbid", populate_by_name=False)


class ErrorBody(BaseModel):
    """Every refusal: a stable code, a human message, and the field at fault if one is."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="a stable code: invalid, not_found, unauthorized, …")
    message: str
    field: str | None = Field(
        default=None, description="the dotted path of the parameter or body field at fault"
    )


class Page(BaseModel):
    """A page of a list; `next` is the cursor of the following page (null on the last)."""

    next: str | None


# --- coaches -----------------------------------------------------------------------------


class CoachPolicies(BaseModel):
    """A coach's settings that can be changed."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] | None = None
    timezone: Timezone | None = None
    cancellation_notice_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 60)] | None = None
    buffer_minutes: Annotated[int, Field(ge=0, le=24 * 60)] | None = None
    min_notice_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 60)] | None = None
    horizon_days: Annotated[int, Field(ge=1, le=730)] | None = None
    reminder_offsets_minutes: (
        Annotated[list[Annotated[int, Field(ge=1, le=60 * 24 * 30)]], Field(max_length=10)] | None
    ) = None
    auto_confirm: bool | None = None
    requires_payment: bool | None = None
    calendar_delete_policy: Literal["flag", "cancel"] | None = None
    calcom_event_type_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


class CoachCreate(CoachPolicies):
    """A new coach: e-mail and timezone are required."""

    email: Email
    timezone: Timezone  # required here, optional on PATCH


class CoachUpdate(CoachPolicies):
    """Changes to a coach (the e-mail cannot change)."""


class CoachQuery(BaseModel):
    """Filters of the coach list."""

    model_config = _QUERY

    email: Annotated[str, Field(max_length=320)] | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Coach(BaseModel):
    """A coach with their policy settings."""

    id: uuid.UUID
    email: str
    name: str
    timezone: str
    cancellation_notice_minutes: int
    reminder_offsets_minutes: list[int]
    buffer_minutes: int
    min_notice_minutes: int
    horizon_days: int
    auto_confirm: bool
    requires_payment: bool
    calendar_delete_policy: str
    calcom_username: str | None
    calcom_event_type_id: int | None
    created_at: datetime
    updated_at: datetime


class CoachPage(Page):
    """A page of coaches, by e-mail."""

    items: list[Coach]


# --- availability ------------------------------------------------------------------------


class Rule(BaseModel):
    """Weekly hours on one weekday (end 24:00 is midnight)."""

    weekday: Weekday
    start: Clock
    end: Clock


class Override(BaseModel):
    """A dated exception: extra hours (start and end), or the day off (available false)."""

    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
    available: bool = True
    start: Clock | None = None
    end: Clock | None = None


class AvailabilityUpdate(BaseModel):
    """The full weekly hours and overrides (they replace the current ones)."""

    timezone: Timezone | None = None
    rules: Annotated[list[Rule], Field(max_length=500)] = []
    overrides: Annotated[list[Override], Field(max_length=2000)] = []


class Availability(BaseModel):
    """Weekly hours and overrides, in the coach's timezone."""

    timezone: str
    rules: list[Rule]
    overrides: list[Override]


class SlotQuery(BaseModel):
    """The window and the shape of the slots wanted."""

    model_config = _QUERY

    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    duration: Annotated[int, Field(ge=5, le=720)] = 30
    step: Annotated[int, Field(ge=5, le=720)] = 30
    tz: Timezone | None = Field(default=None, description="show local_start in this zone")


class Slot(BaseModel):
    """One bookable start."""

    start: datetime
    end: datetime
    local_start: datetime


class Slots(BaseModel):
    """Bookable slots in the window."""

    timezone: str
    slots: list[Slot]


# --- sessions ----------------------------------------------------------------------------


class SessionQuery(BaseModel):
    """Filters of the session list."""

    model_config = _QUERY

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

    model_config = _QUERY

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

    model_config = _QUERY

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

    model_config = _QUERY

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

    model_config = _QUERY

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
