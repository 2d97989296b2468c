"""Named small values the sweeps keep between runs."""

from __future__ import annotations

from sqlmodel import Session as Db

from app.db import utcnow
from app.models import KeyValue


def read_value(db: Db, name: str) -> str | None:
    """The stored value, or None."""
    row = db.get(KeyValue, name)
    return row.value if row else None


def write_value(db: Db, name: str, value: str) -> None:
    """Store a value."""
    row = db.get(KeyValue, name) or KeyValue(name=name)
    row.value, row.updated_at = value, utcnow()
    db.add(row)
