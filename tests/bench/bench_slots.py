"""Slots (issue 8, item 4 of issue 12): the availability computation alone, and
`GET /api/coaches/<id>/slots` through gunicorn with PostgreSQL, for a coach with 2,000 sessions
and 500 busy intervals and for one with 25x the history (50,000 sessions) — same window, same
hours, same busy time — requested alternately so both see the same machine load.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.bench.common import Figures, Stack, log, median, percentile, production

WINDOW = timedelta(days=14)
IN_WINDOW = 40  # sessions inside the 14-day window (the rest is history)
BUSY = 500
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in DAYS]


def make_coach(stack: Stack, email: str) -> str:
    made = stack.api("POST", "/coaches", email=email, name="Bench Coach", timezone="Europe/Paris")
    assert made.status_code == 201, made.text
    coach_id: str = made.json()["id"]
    put = stack.api("PUT", f"/coaches/{coach_id}/availability", rules=HOURS)
    assert put.status_code == 200, put.text
    return coach_id


def seed(stack: Stack, coach_id: str, sessions: int, now: datetime) -> None:
    """`sessions` sessions (IN_WINDOW of them in the window, the rest before and after it)
    and BUSY busy intervals from a linked calendar inside the window. The window is the same
    for every coach (one seed): the coaches differ by their history alone."""
    rng = random.Random(12)  # noqa: S311 - reproducible test data
    from app.hub import hub
    from app.models import BusyInterval, CalendarConnection, CalendarFeed, Session

    cid = uuid.UUID(coach_id)
    with hub().db.session() as db:
        conn = CalendarConnection(coach_id=cid, provider="google", account_email=f"{cid}@x.test")
        db.add(conn)
        db.flush()
        feed = CalendarFeed(connection_id=conn.id, calendar_id="primary")
        db.add(feed)
        db.flush()
        for i in range(BUSY):
            start = now + timedelta(minutes=rng.randrange(60, int(WINDOW.total_seconds() // 60)))
            db.add(
                BusyInterval(
                    coach_id=cid,
                    feed_id=feed.id,
                    event_id=f"busy-{i}",
                    start_at=start,
                    end_at=start + timedelta(minutes=rng.choice((15, 30))),
                )
            )
    batch: list[Any] = []
    for i in range(sessions):
        if i < IN_WINDOW:
            start = now + timedelta(minutes=30 * rng.randrange(4, 14 * 48))
        elif i % 10 == 0:  # some far in the future, beyond the window
            start = now + WINDOW + timedelta(days=rng.randrange(3, 365))
        else:  # history: up to ten years back
            start = now - timedelta(minutes=30 * rng.randrange(48, 10 * 365 * 48))
        batch.append(
            Session(
                coach_id=cid,
                attendee_email=f"client{i % 300}@example.com",
                title="Coaching",
                start_at=start,
                end_at=start + timedelta(minutes=45),
                status="confirmed",
            )
        )
        if len(batch) == 5000 or i == sessions - 1:
            with hub().db.session() as db:
                db.add_all(batch)
            batch = []
    with stack.pg() as pg:
        pg.execute("ANALYZE sessions")
        pg.execute("ANALYZE busy_intervals")


def computation(coach_id: str, now: datetime, rounds: int) -> tuple[float, int, int]:
    """p50 (ms) of the pure computation for this coach's window; slots found; intervals taken."""
    from app.domain.availability import slots
    from app.domain.busy import hours, taken
    from app.hub import hub
    from app.models import Coach

    cid = uuid.UUID(coach_id)
    with hub().db.session() as db:
        coach = db.get(Coach, cid)
        assert coach is not None
        rules, overrides = hours(db, cid)
        busy = taken(db, cid, now, now + WINDOW, timedelta(minutes=coach.buffer_minutes))
        zone = ZoneInfo(coach.timezone)
    times = []
    found: list[Any] = []
    for _ in range(rounds):
        began = time.perf_counter()
        found = slots(
            rules,
            overrides,
            zone,
            busy,
            now,
            now + WINDOW,
            timedelta(minutes=30),
            timedelta(minutes=30),
            now + timedelta(minutes=coach.min_notice_minutes),
        )
        times.append((time.perf_counter() - began) * 1000)
    return median(times), len(found), len(busy)


def http_round(stack: Stack, path: str, params: dict[str, str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        began = time.perf_counter()
        resp = stack.http.get(f"{stack.url}{path}", params=params, timeout=30)
        out.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200, resp.text
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    out = Figures()
    with production(workers=0) as stack:
        small, large = make_coach(stack, "small@bench.test"), make_coach(stack, "large@bench.test")
        saved = dict(os.environ)
        os.environ.update(stack.env)
        try:
            from app import create_app

            app = create_app()
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            with app.app_context():
                log("seeding 2,000 + 50,000 sessions")
                seed(stack, small, 2000, now)
                seed(stack, large, 50000, now)
                comp: dict[str, list[float]] = {small: [], large: []}
                info: dict[str, tuple[int, int]] = {}
                for _ in range(args.rounds):
                    for coach in (small, large):
                        p50, n_slots, n_taken = computation(coach, now, 200)
                        comp[coach].append(p50)
                        info[coach] = (n_slots, n_taken)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        c_small, c_large = median(comp[small]), median(comp[large])
        out.add(
            "slots: computation alone, 2,000 sessions + 500 busy, 14 days of 30-min slots",
            c_small,
            "ms",
            "p50",
            "< 1 ms",
            met=c_small < 1,
        )
        out.add(
            "slots: computation alone, 50,000 sessions (vs 2,000)",
            c_large,
            "ms",
            "p50",
            "<= 1.5x the 2,000-session coach",
            baseline=c_small,
            met=c_large <= 1.5 * c_small,
        )
        out.note(
            f"computation inputs: {info[small][1]} taken intervals -> {info[small][0]} slots "
            f"(2,000-session coach), {info[large][1]} -> {info[large][0]} (50,000); medians of "
            f"{args.rounds} rounds of 200 calls"
        )

        end = now + WINDOW
        params = {"from": now.isoformat(), "to": end.isoformat(), "duration": "30", "step": "30"}
        http_round(stack, f"/api/coaches/{small}/slots", params, 10)  # warm-up
        http_round(stack, f"/api/coaches/{large}/slots", params, 10)
        http_round(stack, "/healthz", {}, 10)
        p_small, p_large, p_health = [], [], []
        for _ in range(args.rounds):
            p_health.append(median(http_round(stack, "/healthz", {}, args.requests)))
            p_small.append(
                median(http_round(stack, f"/api/coaches/{small}/slots", params, args.requests))
            )
            p_large.append(
                median(http_round(stack, f"/api/coaches/{large}/slots", params, args.requests))
            )
        h_small, h_large = median(p_small), median(p_large)
        out.add(
            "slots: GET /api/coaches/<id>/slots, 2,000 sessions, PostgreSQL (vs GET /healthz)",
            h_small,
            "ms",
            "p50",
            "< 15 ms",
            baseline=median(p_health),
            met=h_small < 15,
        )
        out.add(
            "slots: GET …/slots, 50,000 sessions (vs 2,000)",
            h_large,
            "ms",
            "p50",
            "<= 1.5x the 2,000-session coach",
            baseline=h_small,
            met=h_large <= 1.5 * h_small,
        )
        last = http_round(stack, f"/api/coaches/{large}/slots", params, args.requests)
        out.note(
            f"HTTP: {args.rounds} alternating rounds of {args.requests} sequential requests "
            "(keep-alive, gunicorn sync workers); per-round p50 small "
            f"{[round(x, 1) for x in p_small]} ms, large {[round(x, 1) for x in p_large]} ms; "
            f"p95 of a last round (50,000) {percentile(last, 95):.1f} ms"
        )
    out.emit()


if __name__ == "__main__":
    main()
