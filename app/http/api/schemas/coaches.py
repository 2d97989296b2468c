"""Coaches, their hours and the slots they give."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.http.api.schemas.common import (
    QUERY,
    Clock,
    Cursor,
    Email,
    Page,
    Timezone,
    Weekday,
)

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

    model_config = QUERY

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

    model_config = QUERY

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
