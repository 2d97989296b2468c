"""An ops person repairs the hub from the dashboard in a real browser (headless Chromium).

The hub runs over real HTTP against the provider sandbox and Redis: a Cal.com cancellation
that arrived before its booking failed, and the Daily room of that booking could not be made
(the sandbox answered 500s until the job was dead-lettered). From the dashboard: sign in, see
both, retry the job, replay the delivery, find the session by its Cal.com uid, read its timeline.

The README's screenshots come from `python -m tests.e2e.dashboard_screenshots` (seeded data).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from app.apikeys import create_key
from app.masking import MASK
from connectors.calcom.webhook import signature
from jobs.attendance import daily_watchdog
from tests.conftest import hub_of
from tests.e2e.stack import Stack
from tests.jobs.calcom_support import booking, fixture

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
VIDEO = "integrations:office365_video"  # the hub makes a Daily room for it


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def post_calcom(stack: Stack, body: dict[str, Any]) -> None:
    """A Cal.com delivery signed with the hub's Cal.com secret, over HTTP."""
    raw = json.dumps(body).encode()
    [secret] = hub_of(stack.app).settings.webhook_secrets["calcom"]
    resp = requests.post(
        f"{stack.url}/webhooks/calcom",
        data=raw,
        headers={
            "X-Cal-Signature-256": signature(raw, secret),
            "X-Cal-Webhook-Version": "2021-10-20",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert resp.status_code < 300, resp.text


def troubles(stack: Stack) -> str:
    """Cal.com's MEETING_STARTED came before its booking (failed), whose Daily room failed."""
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    uid = "bk-dashboard-1"
    times = {"startTime": iso(start), "endTime": iso(start + timedelta(minutes=45))}
    now = datetime.now(UTC)
    started = fixture("MEETING_STARTED")
    started.update(uid=uid, createdAt=iso(now), updatedAt=iso(now), **times)
    started["metadata"] = {"access_token": "ya29.e2e-secret-token"}  # must never be shown
    post_calcom(stack, started)
    stack.settle()
    stack.sandbox.faults.fail_next("daily", 500, count=50, method="POST", path="/rooms")
    created = booking(
        "BOOKING_CREATED",
        uid,
        iso(now - timedelta(seconds=30)),
        start=times["startTime"],
        end=times["endTime"],
        location=VIDEO,
        metadata={},  # no join URL from elsewhere: the hub makes a Daily room
        videoCallData={},
    )
    post_calcom(stack, created)
    stack.settle()
    stack.sandbox.faults.clear()
    return uid


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_ops_person_repairs_a_failed_delivery_and_job(stack: Stack, chromium: Any) -> None:
    @stack.app.after_request
    def _csp(resp: Any) -> Any:  # the policy the hardened hub sends: no inline script or style
        resp.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        return resp

    uid = troubles(stack)
    # Daily stopped sending to the hub and refuses the re-activation for now
    stack.control("POST", "/daily/webhook/fail")
    stack.sandbox.faults.fail_next("daily", 500, count=20, method="POST", path="/webhooks")
    with stack.app.app_context(), pytest.raises(Exception):  # noqa: B017,PT011 - any failure
        daily_watchdog()
    stack.sandbox.faults.clear()
    with hub_of(stack.app).db.session() as db:
        _, token = create_key(db, "ops-e2e", ("ops",))

    anonymous = chromium.new_context()
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        # anonymous access is redirected to the sign-in page
        lost = anonymous.new_page()
        lost.goto(f"{stack.url}/dashboard/jobs")
        assert "/dashboard/login" in lost.url

        page.goto(f"{stack.url}/dashboard")
        page.get_by_label("API key").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{stack.url}/dashboard")
        alerts = page.locator("#alerts").inner_text()
        assert "calcom: 1 failed in the last hour" in alerts
        assert "Daily webhook is FAILED" in alerts
        assert "failed job" in alerts
        assert page.locator("#daily-state").inner_text() == "failed"
        page.wait_for_selector("#chart-deliveries .u-wrap")  # uPlot drew from app/static
        page.wait_for_selector("#chart-latency .u-wrap")

        # the dead-letter list: the Daily room job, retried now that Daily answers again
        page.get_by_role("link", name="Failed jobs").click()
        job = page.locator("article.job").first
        assert job.locator("code").first.inner_text().startswith("reconcile:daily:")
        assert "TransientError" in job.inner_text()
        job.get_by_role("button", name="Retry").click()
        assert "queued again" in page.get_by_role("status").inner_text()
        stack.settle()
        page.reload()
        assert page.locator("#no-failed").is_visible()

        # the failed delivery: masked headers, Replay, processed
        page.get_by_role("link", name="Deliveries").click()
        page.get_by_label("State").select_option("failed")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("#deliveries tbody tr")
        assert rows.count() == 1
        assert "MEETING_STARTED" in rows.first.inner_text()
        rows.first.locator("a").first.click()
        assert page.locator("#state").inner_text() == "failed"
        headers = page.locator("#headers").inner_text()
        assert MASK in headers
        assert not re.search(r"[0-9a-f]{64}", headers)  # the signature is not shown
        body = page.locator("#body").inner_text()
        assert uid in body
        assert "ya29.e2e-secret-token" not in body
        assert MASK in body
        page.get_by_role("button", name="Replay").click()
        assert "queued for replay" in page.get_by_role("status").inner_text()
        stack.settle()
        page.reload()
        assert page.locator("#state").inner_text() == "processed"

        # the session by its Cal.com uid: canonical state, links, timeline
        page.get_by_role("link", name="Sessions").click()
        page.get_by_label("Session id", exact=False).fill(uid)
        page.get_by_role("button", name="Find").click()
        page.locator("#found tbody a").first.click()
        assert page.locator("#status").inner_text() == "confirmed"
        links = page.locator("#links").inner_text()
        assert uid in links
        assert "daily" in links
        timeline = page.locator("#timeline li")
        assert timeline.count() >= 2
        assert "meeting_started" in timeline.last.inner_text()
        page.get_by_role("button", name="Reconcile now").click()
        assert "Reconciliation queued" in page.get_by_role("status").inner_text()
        stack.settle()

        # a form post without the CSRF token is refused, even signed in
        refused = page.request.post(f"{stack.url}/dashboard/jobs/retry-kind", form={"kind": "x"})
        assert refused.status == 400
        assert "csrf_missing" in refused.text()

        page.get_by_role("link", name="Connections").click()
        assert page.locator("#daily-state").inner_text() == "failed"
        assert csp_errors == []  # nothing on any page broke the Content-Security-Policy
    finally:
        context.close()
        anonymous.close()
