"""PostgreSQL stopped and restarted during a burst of 500 signed Cal.com deliveries.

The sender behaves like a provider that retries: a 503 (with Retry-After) is sent again later.
Every delivery the sender saw answered 2xx must be processed exactly once — one inbox row in
state `processed`, one session, one timeline event from Cal.com — and every 503 must succeed
on the retry. The figures are printed (`pytest -s`) and asserted."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from connectors.calcom.webhook import signature
from tests.faults.conftest import (
    CALCOM_SECRET,
    FaultHub,
    Private,
    hard_limit,
    running_hub,
    wait_progress,
)
from tests.jobs.calcom_support import booking

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

DELIVERIES = 500
#: the outage begins once this many deliveries were answered, and lasts this long
OUTAGE_AFTER, OUTAGE_SECONDS = 120, 3.0
RETRY_DEADLINE = 60.0


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def signed_bodies() -> list[tuple[str, bytes]]:
    first = datetime(2031, 1, 6, 8, tzinfo=UTC)
    out = []
    for i in range(DELIVERIES):
        uid = f"pg-outage-{i:04d}"
        start = first + timedelta(hours=i)
        body = booking(
            "BOOKING_CREATED",
            uid,
            iso(datetime.now(UTC)),
            iso(start),
            iso(start + timedelta(hours=1)),
        )
        out.append((uid, json.dumps(body).encode()))
    return out


def post(http: requests.Session, url: str, raw: bytes) -> tuple[int, float]:
    """One delivery as Cal.com sends it: (status or 0 for no answer, Retry-After seconds)."""
    try:
        resp = http.post(
            f"{url}/webhooks/calcom",
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-Cal-Signature-256": signature(raw, CALCOM_SECRET),
                "X-Cal-Webhook-Version": "2021-10-20",
            },
            timeout=15,
        )
    except requests.RequestException:
        return 0, 1.0
    return resp.status_code, float(resp.headers.get("Retry-After") or 1)


def test_postgres_restart_during_a_burst_loses_nothing(private: Private, tmp_path: Path) -> None:
    with hard_limit(330), running_hub(private, tmp_path, workers=3) as hub:
        play(hub)


def play(hub: FaultHub) -> None:
    bodies = signed_bodies()
    first: dict[str, int] = {}
    answered = threading.Semaphore(0)
    local = threading.local()

    def send(item: tuple[str, bytes]) -> None:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        uid, raw = item
        first[uid], _ = post(local.http, hub.url, raw)
        answered.release()

    outage = {"down_at": 0.0, "up_at": 0.0}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(send, item) for item in bodies]
        for _ in range(OUTAGE_AFTER):
            answered.acquire(timeout=60)
        outage["down_at"] = time.monotonic()
        hub.private.pg.stop("fast")  # a real outage: every connection is dropped
        time.sleep(OUTAGE_SECONDS)
        hub.private.pg.start()
        outage["up_at"] = time.monotonic()
        for future in futures:
            future.result(timeout=120)

    # the sender's retries: every delivery not answered 2xx is sent again, after Retry-After
    retried: Counter[str] = Counter()
    final = {uid: status for uid, status in first.items()}
    deadline = time.monotonic() + RETRY_DEADLINE
    raw_of = dict(bodies)
    with requests.Session() as http:
        while time.monotonic() < deadline:
            todo = [uid for uid, status in final.items() if not 200 <= status < 300]
            if not todo:
                break
            wait = 0.0
            for uid in todo:
                final[uid], after = post(http, hub.url, raw_of[uid])
                retried[uid] += 1
                wait = max(wait, after) if not 200 <= final[uid] < 300 else wait
            time.sleep(min(wait, 5.0))

    statuses = Counter(first.values())
    ok_first = [uid for uid, s in first.items() if 200 <= s < 300]
    answered_503 = [uid for uid, s in first.items() if s == 503]

    # every stored delivery is processed by the workers (the ingest jobs that met the outage
    # are retried by RQ; anything left `received` is re-enqueued by the sweep)
    def unprocessed() -> int:
        [(left,)] = hub.sql("SELECT count(*) FROM webhook_deliveries WHERE state <> 'processed'")
        return int(left)

    try:
        waited = wait_progress("deliveries processed", unprocessed, limit=240, stall=45)
    finally:
        print(  # noqa: T201 - where the inbox stands (shown on failure)
            "\ninbox:",
            hub.sql("SELECT state, attempts, count(*) FROM webhook_deliveries GROUP BY 1, 2"),
        )
    rows = dict(hub.sql("SELECT dedupe_key, state FROM webhook_deliveries"))
    [(row_count,)] = hub.sql("SELECT count(*) FROM webhook_deliveries")
    links = Counter(
        uid
        for (uid,) in hub.sql(
            "SELECT external_id FROM provider_links WHERE provider = 'calcom' AND active"
        )
    )
    sessions = Counter(
        uid
        for (uid,) in hub.sql(
            "SELECT l.external_id FROM sessions s JOIN provider_links l ON l.session_id = s.id"
            " WHERE l.provider = 'calcom'"
        )
    )
    events = Counter(
        uid
        for (uid,) in hub.sql(
            "SELECT l.external_id FROM session_events e"
            " JOIN provider_links l ON l.session_id = e.session_id AND l.provider = 'calcom'"
            " WHERE e.source = 'calcom'"
        )
    )
    versions = Counter(
        v
        for (v,) in hub.sql(
            "SELECT s.version FROM sessions s JOIN provider_links l ON l.session_id = s.id"
            " WHERE l.provider = 'calcom'"
        )
    )
    processed = sum(1 for state in rows.values() if state == "processed")
    lost = [uid for uid in ok_first if uid not in links]
    twice = [uid for uid, n in events.items() if n != 1] + [
        uid for uid, n in sessions.items() if n != 1
    ]
    figures = {
        "deliveries sent": len(bodies),
        "first answers": dict(sorted(statuses.items())),
        "2xx first time": len(ok_first),
        "503 first time": len(answered_503),
        "sender retries": sum(retried.values()),
        "retried deliveries": len(retried),
        "2xx after retry": sum(1 for uid in retried if 200 <= final[uid] < 300),
        "outage seconds": round(outage["up_at"] - outage["down_at"], 1),
        "processing finished after the burst (s)": round(waited, 1),
        "inbox rows": row_count,
        "processed": processed,
        "sessions": len(sessions),
        "deliveries lost": len(lost),
        "processed more than once": len(twice),
    }
    print("\nPOSTGRES OUTAGE FIGURES:", json.dumps(figures))  # noqa: T201 - the closing figures

    assert answered_503, f"the outage hit no delivery: {figures}"  # the fault really happened
    assert set(statuses) <= {200, 503}, figures  # never a 500, never a hang-up
    assert all(200 <= s < 300 for s in final.values()), figures
    assert set(retried) == set(answered_503)
    assert row_count == DELIVERIES == processed
    assert lost == []
    assert twice == []
    assert len(links) == len(sessions) == DELIVERIES
    assert versions == Counter({1: DELIVERIES})
