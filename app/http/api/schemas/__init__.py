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

Models live by part of the API (`common`, `coaches`, `sessions`, `platform`; a new part may get
its own module) and are re-exported here, so routes say `schemas.<Model>`; the class name is the
component name in the document, so it must be unique. `links=` on `@contract` adds OpenAPI links
(`app.http.api.links`); 429 (the per-key rate limit) is in `contract.ALWAYS`.

Request models describe what the route accepts; the views keep their own checks of meaning
(a known timezone, end after start), which answer 400 with the same shape. Under
`testing=True` every success answer is also validated against its model in-process.
"""

from __future__ import annotations

from app.http.api.schemas.coaches import (
    Availability,
    AvailabilityUpdate,
    Coach,
    CoachCreate,
    CoachPage,
    CoachPolicies,
    CoachQuery,
    CoachUpdate,
    Override,
    Rule,
    Slot,
    SlotQuery,
    Slots,
)
from app.http.api.schemas.common import (
    Actor,
    Clock,
    Cursor,
    DeliveryState,
    Email,
    ErrorBody,
    OutboundState,
    Page,
    PaymentStatus,
    SessionKind,
    SessionStatus,
    Text,
    Timezone,
    Weekday,
)
from app.http.api.schemas.people import (
    Erased,
    EraseRequest,
    GuestSession,
    HeldDelivery,
    HeldMessage,
    PersonExport,
    PersonQuery,
    PersonSession,
)
from app.http.api.schemas.platform import (
    Connection,
    ConnectionPage,
    Delivery,
    DeliveryPage,
    DeliveryQuery,
    Endpoint,
    EndpointCreate,
    EndpointCreated,
    EndpointPage,
    FailedJob,
    FailedJobPage,
    Feed,
    FeedUrl,
    LinkUrl,
    LinkUrlRequest,
    Message,
    MessagePage,
    MessageQuery,
    Queued,
    Replay,
    Resend,
    Unlinking,
    UnlinkQuery,
)
from app.http.api.schemas.sessions import (
    Attendance,
    Attendee,
    AttendeeInfo,
    Booked,
    Booking,
    CallSummary,
    Cancellation,
    CoachRef,
    Event,
    EventPage,
    JoinRequest,
    JoinToken,
    Link,
    OutcomeChange,
    PageQuery,
    Payment,
    Recurrence,
    Reschedule,
    Series,
    SessionOut,
    SessionPage,
    SessionQuery,
    Span,
    StatusChange,
)

__all__ = [
    "EraseRequest",
    "Erased",
    "GuestSession",
    "HeldDelivery",
    "HeldMessage",
    "PersonExport",
    "PersonQuery",
    "PersonSession",
    "Actor",
    "Attendance",
    "Attendee",
    "AttendeeInfo",
    "Availability",
    "AvailabilityUpdate",
    "Booked",
    "Booking",
    "CallSummary",
    "Cancellation",
    "Clock",
    "Coach",
    "CoachCreate",
    "CoachPage",
    "CoachPolicies",
    "CoachQuery",
    "CoachRef",
    "CoachUpdate",
    "Connection",
    "ConnectionPage",
    "Cursor",
    "Delivery",
    "DeliveryPage",
    "DeliveryQuery",
    "DeliveryState",
    "Email",
    "Endpoint",
    "EndpointCreate",
    "EndpointCreated",
    "EndpointPage",
    "ErrorBody",
    "Event",
    "EventPage",
    "FailedJob",
    "FailedJobPage",
    "Feed",
    "FeedUrl",
    "JoinRequest",
    "JoinToken",
    "Link",
    "LinkUrl",
    "LinkUrlRequest",
    "Message",
    "MessagePage",
    "MessageQuery",
    "OutboundState",
    "OutcomeChange",
    "Override",
    "Page",
    "PageQuery",
    "Payment",
    "PaymentStatus",
    "Queued",
    "Recurrence",
    "Replay",
    "Reschedule",
    "Resend",
    "Rule",
    "Series",
    "SessionKind",
    "SessionOut",
    "SessionPage",
    "SessionQuery",
    "SessionStatus",
    "Slot",
    "SlotQuery",
    "Slots",
    "Span",
    "StatusChange",
    "Text",
    "Timezone",
    "UnlinkQuery",
    "Unlinking",
    "Weekday",
]
