"""Catch-up and sync cost growth (issue 12, item 5): an incremental Google sync with 10 changes
costs the same number of calls on a calendar of 1,000 events and on one of 100,000 (sync
tokens, not scans). The first (full) sync of each calendar is shown too: it does grow.

Two coaches link a Google account whose primary calendar the sandbox filled beforehand; once
the hub has settled, the coach adds 10 events and Google pushes once; the sandbox's request
log counts what the hub asked Google for.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from tests.bench.bench_sync import Driver
from tests.bench.common import Figures, Stack, log, production
from tests.e2e.google_support import link_google


def google_calls(driver: Driver) -> dict[str, int]:
    found: dict[str, int] = {"total": 0, "reads": 0, "writes": 0}
    for r in driver.requests_log():
        if r["provider"] != "google" or r.get("batch"):
            continue
        found["total"] += 1
        found["reads" if r["method"] == "GET" else "writes"] += 1
    return found


def prepare(stack: Stack, driver: Driver, email: str, events: int) -> dict[str, int]:
    """A coach whose Google calendar holds `events` events, linked and settled; the calls of
    the first sync."""
    stack.control("POST", "/google/accounts", email=email)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=30)
    began = time.monotonic()
    done = 0
    while done < events:
        chunk = min(20_000, events - done)
        at = start + timedelta(minutes=90 * done)
        stack.control(
            "POST",
            f"/google/calendars/{email}/events/bulk",
            count=chunk,
            start=at.isoformat(),
            every_minutes=90,
        )
        done += chunk
    log(f"{email}: {events} events in {time.monotonic() - began:.0f}s")
    made = stack.api("POST", "/coaches", email=email, name="Bench Coach", timezone="UTC")
    assert made.status_code == 201, made.text
    driver.settle()
    driver.clear()
    adapter = SimpleNamespace(api=stack.http, url=stack.url)
    page = link_google(adapter, made.json()["id"], email=email)  # type: ignore[arg-type]
    assert page.status_code == 200, page.text[-400:]
    began = time.monotonic()
    if not driver.settle(timeout=600, quiet=2):
        log(f"{email}: the first sync did not settle")
    log(f"{email}: first sync settled in {time.monotonic() - began:.0f}s")
    return google_calls(driver)


def incremental(stack: Stack, driver: Driver, email: str, changes: int) -> dict[str, int]:
    driver.settle()
    driver.clear()
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    stack.control(
        "POST",
        f"/google/calendars/{email}/events/bulk",
        count=changes,
        start=at.isoformat(),
        every_minutes=17,
        push=True,
    )
    driver.settle(timeout=300)
    return google_calls(driver)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    out = Figures()
    with production(workers=2, sandbox_env=True) as stack:
        driver = Driver(stack)
        driver.settle()
        first: dict[str, dict[str, int]] = {}
        coaches = {"small@sandbox.test": args.small, "large@sandbox.test": args.large}
        for email, events in coaches.items():
            first[email] = prepare(stack, driver, email, events)
        rounds: dict[str, list[dict[str, int]]] = {email: [] for email in coaches}
        for _ in range(args.rounds):
            for email in coaches:
                rounds[email].append(incremental(stack, driver, email, 10))
        small = [r["total"] for r in rounds["small@sandbox.test"]]
        large = [r["total"] for r in rounds["large@sandbox.test"]]
        worst_small, worst_large = max(small), max(large)
        out.add(
            f"catch-up: Google calls of an incremental sync with 10 changes, {args.large:,} events"
            f" (vs {args.small:,})",
            worst_large,
            "requests",
            "count",
            "the same as the small calendar",
            baseline=worst_small,
            met=worst_large == worst_small and worst_large > 0,
        )
        out.add(
            f"catch-up: Google calls of the first (full) sync, {args.large:,} events"
            f" (vs {args.small:,})",
            first["large@sandbox.test"]["total"],
            "requests",
            "count",
            "(informative: a full sync pages through the calendar)",
            baseline=first["small@sandbox.test"]["total"],
        )
        out.note(
            f"incremental syncs per round (small, large): {list(zip(small, large, strict=True))}; "
            f"first syncs: {first}"
        )
        details: Any = rounds["large@sandbox.test"][-1]
        out.note(f"last incremental sync of the large calendar: {details}")
    out.emit()


if __name__ == "__main__":
    main()
