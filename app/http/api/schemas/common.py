"""Types and shapes every part of the API shares."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# the vocabularies, defined once with the tables (re-exported for the API's models)
from app.models import DeliveryState as DeliveryState
from app.models import OutboundState as OutboundState
from app.models import PaymentStatus as PaymentStatus
from app.models import SessionKind as SessionKind
from app.models import SessionStatus as SessionStatus

# --- shared ------------------------------------------------------------------------------

Text = Annotated[str, Field(max_length=10000)]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Timezone = Annotated[str, Field(min_length=1, max_length=64, description="an IANA timezone name")]
Clock = Annotated[
    str,
    Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", description="HH:MM, 00:00–24:00"),
]
Cursor = Annotated[str, Field(description="the `next` value of the previous page")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Actor = Literal["coach", "attendee", "platform"]


#: a query string names only known parameters: a typo in a filter is refused, not ignored
QUERY = ConfigDict(extra="forbid", populate_by_name=False)


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
