"""Coaches: created from the API or from any provider that names an organizer."""

from __future__ import annotations

from sqlmodel import Session as Db
from sqlmodel import func, select

from app.db import utcnow
from app.models import Coach
from connectors.base import Person


def find_by_email(db: Db, email: str) -> Coach | None:
    """The coach with this e-mail (case-insensitive), if any."""
    return db.exec(select(Coach).where(func.lower(Coach.email) == email.strip().lower())).first()


def ensure_coach(db: Db, person: Person, source: str = "api") -> Coach:
    """The coach for an organizer, created or updated from what the provider says."""
    coach = find_by_email(db, person.email)
    if coach is None:
        coach = Coach(
            email=person.email.strip().lower(),
            name=person.name,
            timezone=person.timezone or "UTC",
        )
    changed = False
    updates: list[tuple[str, str | None]] = [
        ("name", person.name or None),
        ("timezone", person.timezone),
    ]
    if source == "calcom":  # the only provider that names its users to us
        updates += [("calcom_user_id", person.external_id), ("calcom_username", person.username)]
    for attr, value in updates:
        if value is not None and getattr(coach, attr) != value:
            setattr(coach, attr, value)
            changed = True
    if changed:
        coach.updated_at = utcnow()
    db.add(coach)
    db.flush()
    return coach
