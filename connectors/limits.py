"""What a canonical Change may carry: sizes the hub stores, checked before anything is stored.

A provider payload can be validly signed and still unusable: a 900 KB title, ten thousand
attendees, a NUL character PostgreSQL refuses in text. Such a delivery must fail once with a
clear reason (InvalidPayload -> state `failed`), not crash the ingest job on the database and
be retried until it is dead-lettered, nor make the hub store ten thousand people.

The text limits are the column sizes of the canonical tables (app/models.py; a test checks
they agree); `notes` and the people limits are the hub's own policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.base import Change, LinkRef, Person
from connectors.errors import InvalidPayload

#: people a session may list besides its coach: one attendee and up to 49 guests. A coaching
#: session is one-to-one or a small group; a longer list is a broken or hostile payload.
MAX_PEOPLE = 50

#: characters of a session's free-text notes (a booking form's "additional notes"); the
#: columns below are bounded by the schema, notes only by this policy
MAX_NOTES = 20_000

#: characters of JSON a change's provider details may take on the timeline (the details are
#: ids, codes and short names; a longer one is a broken or hostile payload)
MAX_DETAIL = 20_000

#: the largest payment amount (minor units) the integer column holds; Stripe's own maximum
#: is 99,999,999
MAX_AMOUNT = 2**31 - 1

#: the span session times must fall in: a booking in year 1 or 9999 is a broken payload, and
#: the arithmetic done on session times (reminders days before, rooms open an hour after) must
#: never leave datetime's range and crash the job
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

#: Change text fields -> the length of the column they are stored in (sessions, links)
TEXT_LIMITS: Mapping[str, int] = {
    "external_id": 1024,
    "previous_external_id": 1024,
    "status": 32,
    "timezone": 64,
    "title": 500,
    "notes": MAX_NOTES,
    "reason": 2000,
    "kind": 16,
    "location": 1000,
    "meeting_url": 2000,
    "cancellation_reason": 2000,
    "cancelled_by": 320,
    "payment_status": 32,
    "payment_currency": 8,
    "remote_version": 1024,
}

#: Person fields -> the column length of the coach (or session attendee) field they fill
PERSON_LIMITS: Mapping[str, int] = {
    "email": 320,
    "name": 200,
    "timezone": 64,
    "external_id": 64,
    "username": 200,
    "client_ref": 200,
}


def _text(value: str, where: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidPayload(f"{where} is {len(value)} characters long (at most {limit})")
    if "\x00" in value:
        raise InvalidPayload(f"{where} contains a NUL character")


def _person(person: Person, where: str) -> None:
    for name, limit in PERSON_LIMITS.items():
        value = getattr(person, name)
        if value is not None:
            _text(value, f"{where}.{name}", limit)


def _link(link: LinkRef) -> None:
    _text(link.provider, "links.provider", 32)
    _text(link.external_id, f"links[{link.provider}].external_id", TEXT_LIMITS["external_id"])


def _when(value: datetime | None, where: str) -> None:
    if value is not None and not EARLIEST <= value < LATEST:
        raise InvalidPayload(
            f"{where} {value.isoformat()} is outside {EARLIEST.year}..{LATEST.year - 1}"
        )


def check_change(change: Change) -> None:
    """Raise InvalidPayload when a change does not fit what the hub stores."""
    _when(change.start_at, "start")
    _when(change.end_at, "end")
    if change.attendance is not None:
        _when(change.attendance.actual_start, "actual start")
        _when(change.attendance.actual_end, "actual end")
    for name, limit in TEXT_LIMITS.items():
        value = getattr(change, name)
        if value is not None:
            _text(value, name, limit)
    if len(change.guests) + 1 > MAX_PEOPLE:
        raise InvalidPayload(
            f"{len(change.guests) + 1} attendees and guests (a session takes at most {MAX_PEOPLE})"
        )
    for where, person in (("coach", change.coach), ("attendee", change.attendee)):
        if person is not None:
            _person(person, where)
    for index, guest in enumerate(change.guests):
        _person(guest, f"guests[{index}]")
    for link in change.links:
        _link(link)
    amount = change.payment_amount
    if amount is not None and not 0 <= amount <= MAX_AMOUNT:
        raise InvalidPayload(f"payment amount {amount} is outside 0..{MAX_AMOUNT}")
    size = len(json.dumps(change.detail, default=str))
    if size > MAX_DETAIL:
        raise InvalidPayload(f"provider details take {size} characters (at most {MAX_DETAIL})")
