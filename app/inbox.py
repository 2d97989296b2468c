"""The webhook inbox: a lean, idempotent insert on the hot path, and delivery state changes."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from app.db import utcnow
from app.models import WebhookDelivery

_table = WebhookDelivery.__table__  # type: ignore[attr-defined]


def _text(value: str) -> str:
    """A provider-chosen string made storable: PostgreSQL text refuses NUL characters."""
    return value.replace("\x00", "\ufffd")


def store_delivery(
    engine: Engine,
    provider: str,
    dedupe_key: str,
    event_type: str,
    headers: Mapping[str, str],
    raw: bytes,
) -> tuple[int, bool]:
    """Insert a delivery unless its key was seen: (delivery id, True when new). Committed."""
    values = {
        "provider": provider,
        "dedupe_key": _text(dedupe_key)[:512],
        "event_type": _text(event_type)[:128],
        "received_at": utcnow(),
        "headers": dict(headers),
        "body": raw,
        "state": "received",
        "attempts": 0,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(_table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "dedupe_key"])
        .returning(_table.c.id)
    )
    with engine.begin() as conn:
        new_id = conn.execute(stmt).scalar()
        if new_id is not None:
            return int(new_id), True
        existing = conn.execute(
            select(_table.c.id).where(
                _table.c.provider == provider, _table.c.dedupe_key == values["dedupe_key"]
            )
        ).scalar_one()
        return int(existing), False
