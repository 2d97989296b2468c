"""The ops dashboard's overview: per-provider inbox health, the queue, sessions, 24-hour charts.

SQL aggregates over indexed columns, bounded by time windows: counts, percentiles (nearest
rank, with window functions both SQLite and PostgreSQL have) and hourly series are computed by
the database over the last hour / day / week — nothing loads whole tables into Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, and_, case, cast, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session as Db
from sqlmodel import col, select

import connectors
from app.db import utcnow
from app.models import DELIVERY_STATES, ProviderLink, Session, WebhookDelivery, WebhookTally
from app.queue import FailedJob, JobQueue
from app.tally import hour_of
from connectors.calendar import CalendarConnector

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
#: a link still `pending` after this long is shown as stuck
PENDING_TOO_LONG = timedelta(minutes=5)
#: a provider is "silent" after this many of its usual gaps without a delivery (and at least…)
SILENT_FACTOR = 4
SILENT_MIN = timedelta(minutes=30)
#: how many recent deliveries define a provider's usual gap
GAP_SAMPLE = 50
#: signature failures "jump" when the last hour has this many and triples the day's hourly mean
SPIKE_MIN = 5
SPIKE_FACTOR = 3
PAGE = 50
DONE_STATES = ("processed", "ignored")

_D = WebhookDelivery


# --- dialect helpers ----------------------------------------------------------------------


def _seconds(db: Db, later: Any, earlier: Any) -> ColumnElement[float]:
    """`later - earlier` in seconds, in the database."""
    if _dialect(db) == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _hour_index(db: Db, column: Any) -> ColumnElement[int]:
    """Whole hours since the epoch (UTC) of a timestamp column."""
    if _dialect(db) == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 3600), Integer)
    return cast(func.strftime("%s", column), Integer) // 3600


def _dialect(db: Db) -> str:
    bind = db.get_bind()
    return str(bind.dialect.name)


def _from_hour_index(index: int) -> datetime:
    return datetime.fromtimestamp(index * 3600, UTC)


# --- overview: providers ------------------------------------------------------------------


@dataclass
class ProviderStats:
    """One provider's inbox over the last hour and day."""

    provider: str
    received: tuple[int, int] = (0, 0)  # (last hour, last day)
    processed: tuple[int, int] = (0, 0)
    failed: tuple[int, int] = (0, 0)
    waiting: tuple[int, int] = (0, 0)
    rejected: tuple[int, int] = (0, 0)
    duplicates: tuple[int, int] = (0, 0)
    p50_ms: float | None = None
    p95_ms: float | None = None
    last_at: datetime | None = None
    usual_gap: timedelta | None = None
    alerts: list[str] = field(default_factory=list)

    @property
    def red(self) -> bool:
        """Something an ops person must look at."""
        return bool(self.alerts)


def inbox_providers() -> list[str]:
    """Providers whose webhooks land in the inbox (calendar pushes do not)."""
    return sorted(s for s, c in connectors.REGISTRY.items() if not isinstance(c, CalendarConnector))


def provider_stats(db: Db, now: datetime | None = None) -> list[ProviderStats]:
    """Per provider: deliveries by outcome, latency percentiles, last delivery, alerts."""
    now = now or utcnow()
    hour_ago, day_ago = now - HOUR, now - DAY
    stats: dict[str, ProviderStats] = {}

    def get(provider: str) -> ProviderStats:
        return stats.setdefault(provider, ProviderStats(provider))

    in_hour = func.sum(case((col(_D.received_at) >= hour_ago, 1), else_=0))
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for provider, state, hour_n, day_n in db.exec(
        select(_D.provider, _D.state, in_hour, func.count())
        .where(col(_D.received_at) >= day_ago, col(_D.received_at) <= now)
        .group_by(_D.provider, _D.state)
    ):
        counts[(provider, state)] = (int(hour_n or 0), int(day_n))
    for provider in {p for p, _ in counts}:
        s = get(provider)
        s.received = _sum(counts.get((provider, st), (0, 0)) for st in DELIVERY_STATES)
        s.processed = _sum(counts.get((provider, st), (0, 0)) for st in DONE_STATES)
        s.failed = counts.get((provider, "failed"), (0, 0))
        s.waiting = _sum(counts.get((provider, st), (0, 0)) for st in ("received", "waiting"))

    t = WebhookTally
    first_hour = hour_of(hour_ago)
    tally_hour = func.sum(case((col(t.hour) >= first_hour, t.count), else_=0))
    for provider, outcome, hour_n, day_n in db.exec(
        select(t.provider, t.outcome, tally_hour, func.sum(t.count))
        .where(
            col(t.hour) >= hour_of(day_ago),
            col(t.hour) <= now,
            col(t.outcome).in_(("rejected", "duplicate")),
        )
        .group_by(t.provider, t.outcome)
    ):
        pair = (int(hour_n or 0), int(day_n or 0))
        if outcome == "rejected":
            get(provider).rejected = pair
        else:
            get(provider).duplicates = pair

    for provider, p50, p95 in latency_by_provider(db, day_ago):
        get(provider).p50_ms, get(provider).p95_ms = p50, p95

    for provider in sorted(set(inbox_providers()) | set(stats)):
        s = get(provider)
        # the newest GAP_SAMPLE + 1 receipt times: one short index scan on (provider,
        # received_at) gives the last delivery and the provider's usual rhythm, however old
        recent = list(
            db.exec(
                select(_D.received_at)
                .where(_D.provider == provider, col(_D.received_at) <= now)
                .order_by(col(_D.received_at).desc())
                .limit(GAP_SAMPLE + 1)
            )
        )
        s.last_at = recent[0] if recent else None
        if len(recent) >= 3:
            s.usual_gap = (recent[0] - recent[-1]) / (len(recent) - 1)
        s.alerts = _alerts(s, now)
    return [stats[p] for p in sorted(stats)]


def _sum(pairs: Any) -> tuple[int, int]:
    hour = day = 0
    for h, d in pairs:
        hour, day = hour + h, day + d
    return hour, day


def _alerts(s: ProviderStats, now: datetime) -> list[str]:
    alerts = []
    if s.usual_gap is not None and s.last_at is not None:
        allowed = max(SILENT_MIN, s.usual_gap * SILENT_FACTOR)
        if now - s.last_at > allowed:
            alerts.append(
                f"silent for {human_duration(now - s.last_at)} (usually every "
                f"{human_duration(s.usual_gap)})"
            )
    hour_rejected, day_rejected = s.rejected
    if hour_rejected >= SPIKE_MIN and hour_rejected > SPIKE_FACTOR * (day_rejected / 24):
        alerts.append(f"{hour_rejected} signature failures in the last hour")
    if s.failed[0]:
        alerts.append(f"{s.failed[0]} failed in the last hour")
    return alerts


def latency_by_provider(db: Db, since: datetime) -> list[tuple[str, float, float]]:
    """(provider, p50 ms, p95 ms) from receipt to processed, for deliveries since `since`."""
    return _percentiles(db, _D.provider, since)


def _percentiles(db: Db, group: Any, since: datetime) -> list[tuple[Any, float, float]]:
    """Nearest-rank p50 and p95 of receipt→processed seconds, per `group`, in SQL."""
    lat = (
        select(
            group.label("g"),
            _seconds(db, _D.processed_at, _D.received_at).label("s"),
        )
        .where(
            col(_D.received_at) >= since,
            col(_D.processed_at).is_not(None),
            col(_D.state).in_(DONE_STATES),
        )
        .subquery()
    )
    ranked = select(
        lat.c.g,
        lat.c.s,
        func.row_number().over(partition_by=lat.c.g, order_by=lat.c.s).label("r"),
        func.count().over(partition_by=lat.c.g).label("n"),
    ).subquery()

    def rank(percent: int) -> ColumnElement[Any]:
        # nearest rank: the ceil(percent/100 · n)-th value, in integer arithmetic (no ceil()
        # in every SQLite build)
        nth = (ranked.c.n * percent + 99) // 100
        return func.max(case((ranked.c.r == nth, ranked.c.s), else_=None))

    out = []
    for g, p50, p95 in db.exec(select(ranked.c.g, rank(50), rank(95)).group_by(ranked.c.g)):
        if p50 is None or p95 is None:
            continue
        out.append((g, round(float(p50) * 1000, 1), round(float(p95) * 1000, 1)))
    return out


# --- overview: queues, sessions -----------------------------------------------------------


@dataclass
class QueueStats:
    """The job queue as ops see it; `error` set when it cannot be read."""

    backend: str
    depth: int | None = None
    oldest_age: float | None = None
    workers: int | None = None
    failed: int | None = None
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    failed_jobs: list[FailedJob] = field(default_factory=list, repr=False)
    error: str | None = None

    @property
    def red(self) -> bool:
        """The queue is down, has no worker, or jobs wait for more than five minutes."""
        return bool(
            self.error
            or self.workers == 0
            or (self.oldest_age is not None and self.oldest_age > 300)
            or self.failed
        )


def queue_stats(queue: JobQueue, backend: str) -> QueueStats:
    """Depth, oldest job age, workers alive and dead letters; never raises."""
    from app.metrics import job_name

    stats = QueueStats(backend)
    try:
        stats.depth = queue.depth()
        stats.oldest_age = queue.oldest_age()
        stats.workers = queue.workers()
        failed = queue.failed()
    except Exception as err:  # noqa: BLE001 - a dead queue is shown, not raised
        stats.error = f"{type(err).__name__}: the queue cannot be read"
        return stats
    stats.failed, stats.failed_jobs = len(failed), failed
    by_kind: dict[str, int] = defaultdict(int)
    for job in failed:
        by_kind[job_name(job.key)] += 1
    stats.failed_by_kind = dict(sorted(by_kind.items()))
    return stats


@dataclass
class SessionHealth:
    """Sessions and links that need a person."""

    pending_too_long: int
    link_errors: int
    needs_review: int
    drift_day: int
    stuck_links: list[dict[str, Any]]
    review: list[dict[str, Any]]


def session_health(db: Db, now: datetime | None = None, sample: int = 10) -> SessionHealth:
    """Counts (and a few examples) of stuck or failing links and flagged sessions."""
    now = now or utcnow()
    L = ProviderLink
    stuck = and_(
        col(L.state) == "pending",
        col(L.active).is_(True),
        col(L.updated_at) < now - PENDING_TOO_LONG,
    )
    pending = db.exec(select(func.count()).select_from(L).where(stuck)).one()
    errors = db.exec(select(func.count()).select_from(L).where(L.state == "error")).one()
    review = db.exec(
        select(func.count()).select_from(Session).where(col(Session.needs_review).is_(True))
    ).one()
    drift = db.exec(
        select(func.coalesce(func.sum(WebhookTally.count), 0)).where(
            WebhookTally.outcome == "drift", col(WebhookTally.hour) >= hour_of(now - DAY)
        )
    ).one()
    links = [
        {
            "session_id": sid,
            "provider": provider,
            "state": state,
            "last_error": last_error,
            "updated_at": updated,
        }
        for sid, provider, state, last_error, updated in db.connection().execute(
            sa_select(
                col(L.session_id),
                col(L.provider),
                col(L.state),
                col(L.last_error),
                col(L.updated_at),
            )
            .where(or_(col(L.state) == "error", stuck))
            .order_by(col(L.updated_at))
            .limit(sample)
        )
    ]
    flagged = [
        {"id": sid, "title": title, "start_at": start, "status": status}
        for sid, title, start, status in db.exec(
            select(Session.id, Session.title, Session.start_at, Session.status)
            .where(col(Session.needs_review).is_(True))
            .order_by(col(Session.start_at).desc())
            .limit(sample)
        )
    ]
    return SessionHealth(int(pending), int(errors), int(review), int(drift), links, flagged)


# --- charts -------------------------------------------------------------------------------


def delivery_series(db: Db, now: datetime | None = None) -> dict[str, Any]:
    """Deliveries per provider per hour over the last 24 hours (uPlot's column layout)."""
    now = now or utcnow()
    first = int(hour_of(now - DAY + HOUR).timestamp() // 3600)
    hours = list(range(first, first + 24))
    bucket = _hour_index(db, _D.received_at).label("h")
    per: dict[str, dict[int, int]] = defaultdict(dict)
    for provider, h, n in db.exec(
        select(_D.provider, bucket, func.count())
        .where(col(_D.received_at) >= _from_hour_index(first))
        .group_by(_D.provider, bucket)
    ):
        per[provider][int(h)] = int(n)
    return {
        "x": [h * 3600 for h in hours],
        "series": {p: [per[p].get(h, 0) for h in hours] for p in sorted(per)},
    }


def latency_series(db: Db, now: datetime | None = None) -> dict[str, Any]:
    """p50 and p95 receipt→processed latency (ms) per hour over the last 24 hours."""
    now = now or utcnow()
    first = int(hour_of(now - DAY + HOUR).timestamp() // 3600)
    hours = list(range(first, first + 24))
    found = {
        int(h): (p50, p95)
        for h, p50, p95 in _percentiles(
            db, _hour_index(db, _D.received_at), _from_hour_index(first)
        )
    }
    return {
        "x": [h * 3600 for h in hours],
        "series": {
            "p50": [found.get(h, (None, None))[0] for h in hours],
            "p95": [found.get(h, (None, None))[1] for h in hours],
        },
    }


def human_duration(delta: timedelta | float) -> str:
    """`3 h 20 min`, `45 s`, `2 d 4 h` — for people, not machines."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    seconds = max(0, math.floor(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
