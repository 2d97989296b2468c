"""Personal data: what the hub holds about a person, and its erasure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.http.api.schemas.common import QUERY, OutboundState, SessionStatus
from app.http.api.schemas.platform import Delivery
from app.http.api.schemas.sessions import Event, SessionOut

EMAIL = Field(min_length=1, max_length=320, description="the person's e-mail (any case)")


class PersonQuery(BaseModel):
    """Whose data to export."""

    model_config = QUERY

    email: str = EMAIL


class EraseRequest(BaseModel):
    """Whose data to erase."""

    model_config = ConfigDict(extra="forbid")

    email: str = EMAIL


class PersonSession(SessionOut):
    """A session the person attended (or booked), with its timeline."""

    events: list[Event]


class GuestSession(BaseModel):
    """A session the person was a guest of: their own entry and the facts only."""

    id: uuid.UUID
    status: SessionStatus
    start_at: datetime
    end_at: datetime
    coach_id: uuid.UUID
    guest: dict[str, Any]


class HeldDelivery(Delivery):
    """A stored webhook delivery that mentions the person, with its raw body."""

    headers: dict[str, str]
    body: str
    body_encoding: Literal["utf-8", "base64"]


class HeldMessage(BaseModel):
    """An outbound webhook message to the platform that mentions the person."""

    id: int
    endpoint_id: uuid.UUID
    msg_id: str
    event_type: str
    state: OutboundState
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]


class PersonExport(BaseModel):
    """Everything the hub holds about a person."""

    email: str
    generated_at: datetime
    sessions: list[PersonSession]
    guest_sessions: list[GuestSession]
    deliveries: list[HeldDelivery]
    outbound_messages: list[HeldMessage]
    retention_days: int
    note: str


class Erased(BaseModel):
    """What an erasure changed (idempotent: a repeat changes nothing)."""

    erased: dict[str, int]
    subject: str = Field(description="a pseudonym of the person: erased:<keyed hash prefix>")
    previous_erasures: int
    note: str
