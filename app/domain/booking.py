"""Booking through the hub: only free time, never twice, a series all or nothing.

The guard is a per-coach lock around "check, then insert" in one transaction: PostgreSQL's
transaction-scoped advisory lock, SQLite's write lock (every hub transaction begins
IMMEDIATE). It guards bookings made through the hub; overlapping bookings a coach makes in
Cal.com still arrive as they are (the hub records what happened).
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session as Db

from app.db import iso, utcnow
from app.domain.availability import Interval, merge, open_intervals
from app.domain.busy import hours, taken
from app.domain.sessions import Applied, apply_change, load_for_update
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Coach
from connectors.base import Change, Person

MAX_OCCURRENCES = 52


class SlotTaken(Conflict):
    """The requested time is not free."""

    code = "slot_taken"


@dataclass(frozen=True)
class Booking:
    """What a platform asks to book."""

    coach_id: uuid.UUID
    attendee: Person
    kind: str
    start_at: datetime
    end_at: datetime
    timezone: str
    title: str
    reason: str | None = None
    notes: str | None = None


def lock_coach(db: Db, coach_id: uuid.UUID) -> None:
    """Serialise bookings of one coach until the transaction ends."""
    if db.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(coach_id.bytes[:8], "big", signed=True) ^ zlib.crc32(b"booking")
        db.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=key))  # type: ignore[call-overload]


def weekly(
    start: datetime, end: datetime, zone: ZoneInfo, count: int | None, until: date | None
) -> list[Interval]:
    """The same local wall time every week (DST-correct), by count or until a date."""
    local_start, length = start.astimezone(zone).replace(tzinfo=None), end - start
    out: list[Interval] = []
    for k in range(MAX_OCCURRENCES):
        wall = local_start + timedelta(weeks=k)
        if (count is not None and k >= count) or (until is not None and wall.date() > until):
            break
        at = wall.replace(tzinfo=zone).astimezone(UTC)
        out.append((at, at + length))
    return out


def check_free(
    db: Db, coach: Coach, slots: list[Interval], ignore: uuid.UUID | None = None
) -> None:
    """Raise SlotTaken naming the first occurrence that conflicts (and with what)."""
    rules, overrides = hours(db, coach.id)
    zone, buffer = ZoneInfo(coach.timezone), timedelta(minutes=coach.buffer_minutes)
    for index, (start, end) in enumerate(slots):
        extra: dict[str, Any] = {"occurrence": index} if len(slots) > 1 else {}
        if rules or overrides:
            opened = open_intervals(rules, overrides, zone, start, end)
            if opened != [(start, end)]:
                raise SlotTaken(
                    "the time is outside the coach's hours",
                    field="start_at",
                    conflict={"start": iso(start), "end": iso(end)},
                    **extra,
                )
        clash = [
            i
            for i in merge(taken(db, coach.id, start, end, buffer, ignore))
            if i[0] < end and i[1] > start
        ]
        if clash:
            raise SlotTaken(
                "the time is already taken",
                field="start_at",
                conflict={"start": iso(clash[0][0]), "end": iso(clash[0][1])},
                **extra,
            )


def book(db: Db, request: Booking, occurrences: list[Interval]) -> list[Applied]:
    """Book one session or a whole series, all or nothing."""
    lock_coach(db, request.coach_id)
    coach = db.get(Coach, request.coach_id)
    if coach is None:
        raise NotFound("no such coach", field="coach_id")
    if occurrences[0][0] < utcnow():
        raise ValidationFailed("start_at is in the past", field="start_at")
    check_free(db, coach, occurrences)
    series = str(uuid.uuid4()) if len(occurrences) > 1 else None
    return [
        apply_change(
            db,
            Change(
                source="api",
                external_id="",
                event="booked",
                occurred_at=utcnow(),
                create=True,
                coach=Person(email=coach.email),
                attendee=request.attendee,
                start_at=start,
                end_at=end,
                timezone=request.timezone,
                title=request.title,
                reason=request.reason,
                notes=request.notes,
                kind=request.kind,
                series_id=series,
            ),
        )
        for start, end in occurrences
    ]


def reschedule(db: Db, session_id: uuid.UUID, start: datetime, end: datetime) -> Applied:
    """Move a session to a free time (its own old time does not count against it)."""
    session = load_for_update(db, session_id)
    if session is None:
        raise NotFound("no such session", field="session_id")
    lock_coach(db, session.coach_id)
    coach = db.get(Coach, session.coach_id)
    if coach is None:
        raise NotFound("no such coach", field="coach_id")
    check_free(db, coach, [(start, end)], ignore=session.id)
    return apply_change(
        db,
        Change(
            source="api",
            external_id="",
            session_id=str(session.id),
            event="rescheduled",
            occurred_at=utcnow(),
            start_at=start,
            end_at=end,
        ),
    )
