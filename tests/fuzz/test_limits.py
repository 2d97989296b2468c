"""connectors/limits.py agrees with the tables it protects, and refuses what they cannot hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.models import Coach, ProviderLink, Session
from connectors.base import Change, LinkRef, Person
from connectors.errors import InvalidPayload
from connectors.limits import MAX_AMOUNT, MAX_PEOPLE, PERSON_LIMITS, TEXT_LIMITS, check_change


def column_length(model: type, name: str) -> int | None:
    length: int | None = model.__table__.c[name].type.length  # type: ignore[attr-defined]
    return length


def test_text_limits_are_the_column_sizes() -> None:
    columns = {
        "external_id": (ProviderLink, "external_id"),
        "previous_external_id": (ProviderLink, "external_id"),
        "remote_version": (ProviderLink, "remote_version"),
    }
    for name, limit in TEXT_LIMITS.items():
        model, column = columns.get(name, (Session, name))
        size = column_length(model, column)
        if size is not None:  # notes: unbounded column, limited by policy
            assert limit == size, name
        else:
            assert name == "notes"


def test_person_limits_fit_the_coach_and_attendee_columns() -> None:
    attendee = {"email": "attendee_email", "name": "attendee_name", "timezone": "attendee_timezone"}
    coach = {"external_id": "calcom_user_id", "username": "calcom_username"}
    for field, limit in PERSON_LIMITS.items():
        if field == "client_ref":  # only an attendee has one
            sizes = [column_length(Session, "attendee_client_ref")]
        else:
            sizes = [column_length(Coach, coach.get(field, field))]
        if field in attendee:
            sizes.append(column_length(Session, attendee[field]))
        assert sizes, field
        assert all(limit == size for size in sizes), (field, sizes)


def change(**fields: object) -> Change:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    return Change(source="calcom", external_id="b1", event="created", occurred_at=at, **fields)  # type: ignore[arg-type]


def test_a_change_that_fits_passes() -> None:
    guests = tuple(Person(email=f"g{i}@example.com") for i in range(MAX_PEOPLE - 1))
    check_change(change(title="t" * 500, guests=guests, payment_amount=MAX_AMOUNT))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "t" * 501}, "title is 501 characters long (at most 500)"),
        ({"notes": "n\x00"}, "notes contains a NUL character"),
        (
            {"guests": tuple(Person(email=f"g{i}@x.io") for i in range(MAX_PEOPLE))},
            f"{MAX_PEOPLE + 1} attendees and guests",
        ),
        ({"coach": Person(email="c" * 321)}, "coach.email is 321 characters long"),
        ({"attendee": Person(email="a@x.io", timezone="z" * 65)}, "attendee.timezone"),
        ({"links": (LinkRef("stripe", "pi_\x00"),)}, "links[stripe].external_id contains"),
        ({"payment_amount": -1}, "payment amount -1 is outside"),
        ({"detail": {"user_name": "u" * 30_000}}, "provider details take 30017 characters"),
        ({"start_at": datetime(1969, 12, 31, tzinfo=UTC)}, "start 1969-12-31T00:00:00+00:00"),
        ({"end_at": datetime(2200, 1, 1, tzinfo=UTC)}, "end 2200-01-01T00:00:00+00:00 is outside"),
        ({"payment_amount": MAX_AMOUNT + 1}, "is outside"),
    ],
)
def test_what_the_tables_cannot_hold_is_refused(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidPayload, match=re.escape(reason)):
        check_change(change(**fields))
