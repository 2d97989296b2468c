"""Key rotation: re-seal every stored secret under the newest encryption key.

Safe while the hub runs: rows are read in short batches and each value is written back in its
own short transaction with a compare-and-set (`WHERE id = … AND column = <what was read>`), so
a value the hub rewrote meanwhile (a refreshed token) is never overwritten with the old one: it
is read again. Idempotent: a value the newest key already opens is left alone, so a second run
changes nothing. A value no configured key opens is counted and named by table and id (never
printed), and the others are still re-sealed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Table, select, update

from app.hub import Hub
from app.models import CalendarConnection, CalendarFeed, WebhookEndpoint

#: every sealed column: (model, column); a test checks no `*_encrypted` column is missing
SEALED: tuple[tuple[Any, str], ...] = (
    (CalendarConnection, "tokens_encrypted"),
    (CalendarFeed, "channel_token_encrypted"),
    (WebhookEndpoint, "secret_encrypted"),
)
BATCH = 100
#: a row rewritten by the hub between our read and our write is read again this many times
RETRIES = 3


@dataclass
class ColumnReport:
    """What a rotation did to one sealed column."""

    table: str
    column: str
    rotated: int = 0
    current: int = 0
    #: ids of rows whose value no configured key opens
    unreadable: list[str] = field(default_factory=list)
    #: ids of rows the hub rewrote every time we tried (rare; a second run picks them up)
    busy: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """`table.column`."""
        return f"{self.table}.{self.column}"


def rotate_keys(
    hub: Hub, batch: int = BATCH, progress: Callable[[ColumnReport], None] | None = None
) -> list[ColumnReport]:
    """Re-seal every sealed value under the newest key; one report per column."""
    newest = Fernet(hub.settings.encryption_keys[0])
    reports = []
    for model, column in SEALED:
        report = _rotate_column(hub, newest, model.__table__, column, batch)
        reports.append(report)
        if progress:
            progress(report)
    return reports


def _rotate_column(hub: Hub, newest: Fernet, table: Table, column: str, batch: int) -> ColumnReport:
    report = ColumnReport(table.name, column)
    pk, sealed = table.c.id, table.c[column]
    last: Any = None
    while True:
        query = select(pk, sealed).where(sealed.is_not(None)).order_by(pk).limit(batch)
        if last is not None:
            query = query.where(pk > last)
        with hub.db.engine.begin() as conn:
            rows = list(conn.execute(query))
        if not rows:
            return report
        for row_id, value in rows:
            _rotate_value(hub, newest, table, column, row_id, value, report)
        last = rows[-1][0]


def _rotate_value(
    hub: Hub,
    newest: Fernet,
    table: Table,
    column: str,
    row_id: Any,
    value: str | None,
    report: ColumnReport,
) -> None:
    pk, sealed = table.c.id, table.c[column]
    for _ in range(RETRIES):
        if value is None:
            return  # cleared meanwhile
        try:
            newest.decrypt(value.encode())
            report.current += 1
            return
        except InvalidToken:
            pass
        try:
            fresh = hub.crypto.rotate(value)
        except InvalidToken:
            report.unreadable.append(str(row_id))
            return
        with hub.db.engine.begin() as conn:
            done = conn.execute(
                update(table).where(pk == row_id, sealed == value).values({column: fresh})
            ).rowcount
            if done:
                report.rotated += 1
                return
            value = conn.execute(select(sealed).where(pk == row_id)).scalar_one_or_none()
    report.busy.append(str(row_id))
