"""Screenshots of the ops dashboard for the README, from a seeded hub in headless Chromium.

    .venv/bin/python -m tests.e2e.dashboard_screenshots [OUT_DIR]   # default docs/screenshots

Seeds a private PostgreSQL schema with the benchmark's data (smaller: 30,000 deliveries over
30 days, 2,000 sessions), marks Daily's webhook failed as the watchdog would, dead-letters a few
Daily room jobs (Daily's API is pointed at a closed port), serves the hub on loopback with its
in-process worker, signs in with an ops key and saves overview, connections, deliveries,
delivery, failed jobs and session pages. The schema is dropped afterwards.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from urllib.parse import quote

from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from app import create_app
from app.apikeys import create_key
from app.config import Settings
from app.kv import write_value
from connectors.sandbox.server import QuietRequestHandler
from tests import services
from tests.bench.bench_dashboard import private_schema, seed
from tests.e2e.browser import ARGS, CHROMIUM
from tests.e2e.test_serve import free_port

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def main(out: Path = OUT) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    with private_schema() as schema, TemporaryDirectory() as tmp:
        seed(schema, now, random.Random(9), deliveries=30_000, sessions_n=2_000)  # noqa: S311 - seeded demo data, not security
        base = services.PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
        port = free_port()
        settings = Settings(
            database_url=f"{base}?options={quote(f'-csearch_path={schema}')}",
            redis_url=None,
            secret_key="screenshots",
            encryption_keys=(Fernet.generate_key().decode(),),
            public_url=f"http://127.0.0.1:{port}",
            webhook_secrets={"calcom": ("s",), "daily": ("s",), "stripe": ("s",)},
            api_keys={"daily": "demo"},
            # nothing listens there: Daily "is down", so room writes end in the dead-letter list
            api_urls={"daily": f"http://127.0.0.1:{free_port()}"},
            var_dir=Path(tmp),
            job_retry_intervals=(),
            testing=True,
        )
        app = create_app(settings)  # with its worker thread: one worker alive
        hub = app.extensions["sessionhub"]
        with hub.db.session() as db:
            _, token = create_key(db, "ops-oncall", ("ops",))
            write_value(db, "daily:webhook:state", "FAILED")
            rows = db.connection().exec_driver_sql(
                "SELECT session_id FROM provider_links WHERE state = 'pending' LIMIT 3"
            )
            broken = [str(r[0]) for r in rows]
            for sid in broken:  # a change the rooms have not followed yet
                db.connection().exec_driver_sql(
                    "UPDATE sessions SET version = 4 WHERE id = %(id)s", {"id": sid}
                )
            failed_id = (
                db.connection()
                .exec_driver_sql("SELECT max(id) FROM webhook_deliveries WHERE state = 'failed'")
                .scalar_one()
            )
        for sid in broken:
            hub.queue.enqueue(f"reconcile:daily:{sid}", "jobs.reconcile.reconcile", sid, "daily")
        deadline = time.monotonic() + 60
        while len(hub.queue.failed()) < len(broken) and time.monotonic() < deadline:
            time.sleep(0.2)
        server = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=QuietRequestHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = settings.public_url
        try:
            with sync_playwright() as play:
                browser = play.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                page.goto(f"{url}/dashboard")
                page.get_by_label("API key").fill(token)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("#chart-latency .u-wrap")
                page.screenshot(path=str(out / "overview.png"), full_page=True)
                page.goto(f"{url}/dashboard/connections")
                page.screenshot(path=str(out / "connections.png"))
                page.goto(f"{url}/dashboard/deliveries?state=failed")
                page.screenshot(path=str(out / "deliveries.png"))
                page.goto(f"{url}/dashboard/deliveries/{failed_id}")
                page.screenshot(path=str(out / "delivery.png"))
                page.goto(f"{url}/dashboard/jobs")
                page.locator("article.job summary").first.click()
                page.screenshot(path=str(out / "failed-jobs.png"))
                page.goto(f"{url}/dashboard/sessions/{broken[0]}")
                page.screenshot(path=str(out / "session.png"), full_page=True)
                browser.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            hub.queue.close()
            hub.db.dispose()
    sys.stderr.write(f"screenshots written to {out}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
