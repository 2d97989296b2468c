"""Hourly tallies of what the inbox does not store: refused and duplicate deliveries, drift.

One upsert per event into a row per (hour, provider, outcome), so the ops dashboard can show
"rejected in the last hour" across every web process without keeping the refused bodies.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from app.db import utcnow
from app.models import TALLY_OUTCOMES, WebhookTally

log = logging.getLogger(__name__)

_table = WebhookTally.__table__  # type: ignore[attr-defined]


def hour_of(when: datetime) -> datetime:
    """The start of the hour `when` falls in."""
    return when.replace(minute=0, second=0, microsecond=0)


def tally(engine: Engine, provider: str, outcome: str, n: int = 1) -> None:
    """Add `n` to this hour's count; never raises (a lost tally must not fail the caller)."""
    if outcome not in TALLY_OUTCOMES:
        raise ValueError(f"unknown tally outcome {outcome!r}")
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_table).values(
        hour=hour_of(utcnow()), provider=provider[:32], outcome=outcome, count=n
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["hour", "provider", "outcome"],
        set_={"count": _table.c.count + stmt.excluded.count},
    )
    try:
        with engine.begin() as conn:
            conn.execute(stmt)
    except Exception:  # noqa: BLE001 - a counter must never turn a 401/200 into a 500
        log.warning("tally not recorded", extra={"provider": provider, "outcome": outcome})
