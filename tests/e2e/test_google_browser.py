"""A coach links Google Calendar in a real browser; a broken grant shows and is repaired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.google_support import COACH, connections, google_events, link_url, make_coach
from tests.e2e.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def _link_in_browser(page: Any, stack: Stack, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Continue to Google Calendar").click()
    page.get_by_label("E-mail", exact=False).fill(COACH)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url("**/connect/google/settings**")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_coach_links_google_in_a_browser(stack: Stack, chromium: Any, tmp_path: Path) -> None:
    coach = make_coach(stack)
    context = chromium.new_context()
    page = context.new_page()
    try:
        _link_in_browser(page, stack, link_url(stack, coach))
        assert page.get_by_role("status").inner_text() == "Your calendar is linked."
        assert page.locator("#account").inner_text() == COACH
        stack.settle()
        page.reload()
        family = page.get_by_role("checkbox", name="Family")
        assert family.is_visible()
        family.check()
        page.get_by_role("button", name="Save").click()
        assert page.get_by_role("status").inner_text() == "Saved."
        stack.settle()
        [conn] = connections(stack, coach)
        assert len(conn["busy_calendars"]) == 2
        page.screenshot(path=str(tmp_path / "connect-settings.png"), full_page=True)

        start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        stack.control(
            "POST",
            "/calcom/bookings",
            start=start.isoformat(),
            end=(start + timedelta(minutes=45)).isoformat(),
            location="integrations:office365_video",
            attendee={"email": "ann@example.com", "name": "Ann"},
        )
        stack.settle()
        assert any(e.get("status") != "cancelled" for e in google_events(stack).values())

        stack.control("POST", f"/google/accounts/{COACH}/revoke-grant")
        stack.control("POST", f"/google/accounts/{COACH}/expire-tokens")
        from tests.e2e.test_google import _expire_locally

        with stack.app.app_context():
            import uuid

            _expire_locally(uuid.UUID(conn["id"]))
            from jobs.calendars import sync_calendar

            sync_calendar(conn["id"])
        page.reload()
        assert page.locator("#state").inner_text() == "needs reauth"
        assert "sign in again" in page.content()

        _link_in_browser(page, stack, link_url(stack, coach))
        stack.settle()
        page.reload()
        assert page.locator("#state").inner_text() == "active"
    finally:
        context.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_coach_links_outlook_in_a_browser(stack: Stack, chromium: Any) -> None:
    coach = make_coach(stack)
    context = chromium.new_context(ignore_https_errors=True)  # the sandbox's throwaway CA
    page = context.new_page()
    try:
        page.goto(link_url(stack, coach, "outlook"))
        page.get_by_role("button", name="Continue to Outlook / Microsoft 365").click()
        page.get_by_label("E-mail", exact=False).fill(COACH)
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url("**/connect/outlook/settings**")
        assert page.get_by_role("status").inner_text() == "Your calendar is linked."
        assert page.locator("#account").inner_text() == COACH
        stack.settle()
        page.reload()
        assert page.locator("#state").inner_text() == "active"
        assert page.get_by_role("radio", name="Calendar").is_checked()
    finally:
        context.close()
