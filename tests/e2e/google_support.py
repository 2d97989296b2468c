"""Linking a coach's Google account the way a browser does (cookies, real forms, redirects)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from http.cookiejar import Cookie, DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, get_cookie_header

from tests.e2e.stack import Stack

COACH = "coach@sandbox.test"
_INPUT = re.compile(r"<input[^>]*>", re.I)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_FORM = re.compile(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', re.I | re.S)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _LoopbackIsSecure(DefaultCookiePolicy):
    """Like a browser: http://127.0.0.1 is a secure context, its Secure cookies are sent back."""

    def return_ok_secure(self, cookie: Cookie, request: Any) -> bool:
        return urlsplit(request.get_full_url()).hostname in LOOPBACK or bool(
            super().return_ok_secure(cookie, request)
        )


class LoopbackBrowser(requests.Session):
    """A cookie-keeping client for the hub on loopback, whose session cookie is `Secure`.

    requests never sends a Secure cookie over http (its per-request cookie jars have the default
    policy); a browser does to loopback. So the Cookie header of each request and each redirect
    to loopback is rebuilt with a policy that treats loopback as secure.
    """

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        jar = RequestsCookieJar()
        jar.update(self.cookies)
        if isinstance(request.cookies, Mapping):
            jar.update(cookiejar_from_dict(dict(request.cookies)))
        _loopback_cookies(prepared, jar)
        return prepared

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # called on each redirect
        jar = getattr(prepared_request, "_cookies", None)
        if jar is not None:
            _loopback_cookies(prepared_request, jar)


def _loopback_cookies(prepared: requests.PreparedRequest, jar: RequestsCookieJar) -> None:
    if urlsplit(prepared.url or "").hostname not in LOOPBACK:
        return
    trusting = RequestsCookieJar(policy=_LoopbackIsSecure())
    trusting.update(jar)
    prepared.headers.pop("Cookie", None)
    header = get_cookie_header(trusting, prepared)
    if header:
        prepared.headers["Cookie"] = header


def loopback_browser() -> requests.Session:
    """A client that keeps cookies like a browser on loopback (see LoopbackBrowser)."""
    return LoopbackBrowser()


def forms(page: str) -> list[tuple[str, dict[str, str], list[str]]]:
    """(action, hidden fields, submit button names) of every form of a page."""
    found = []
    for action, inner in _FORM.findall(page):
        hidden: dict[str, str] = {}
        for tag in _INPUT.findall(inner):
            attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
            if attrs.get("type") == "hidden" and "name" in attrs:
                hidden[attrs["name"]] = attrs.get("value", "")
        buttons = re.findall(r'<button[^>]*name="([^"]*)"', inner)
        found.append((html.unescape(action), hidden, buttons))
    return found


def make_coach(stack: Stack, email: str = COACH) -> str:
    resp = stack.api.post(
        f"{stack.url}/api/coaches",
        json={"email": email, "name": "Sandbox Coach", "timezone": "Europe/Paris"},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    coach_id: str = resp.json()["id"]
    return coach_id


def link_url(stack: Stack, coach_id: str, provider: str = "google") -> str:
    resp = stack.api.post(
        f"{stack.url}/api/coaches/{coach_id}/link-url", json={"provider": provider}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    url: str = resp.json()["url"]
    return url


def link_google(
    stack: Stack,
    coach_id: str,
    email: str = COACH,
    browser: requests.Session | None = None,
    provider: str = "google",
    decision: str = "allow",
) -> requests.Response:
    """Open the link, continue to Google, allow, come back; returns the settings page."""
    browser = browser or loopback_browser()
    start = browser.get(link_url(stack, coach_id, provider), timeout=10)
    assert start.status_code == 200, start.text
    action, hidden, _ = forms(start.text)[0]
    consent = browser.post(urljoin(start.url, action), data=hidden, timeout=10)
    assert consent.status_code == 200, consent.text
    action, hidden, _ = forms(consent.text)[0]
    return browser.post(
        urljoin(consent.url, action),
        data={**hidden, "login_hint": email, "decision": decision},
        timeout=10,
    )


def link_outlook_page(stack: Stack, coach_id: str, ca_bundle: str) -> requests.Response:
    """The Outlook link flow (Microsoft's consent on the sandbox's HTTPS listener, its own CA)."""
    browser = loopback_browser()  # the Secure session cookie goes to 127.0.0.1, as in browsers
    browser.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    browser.verify = ca_bundle
    return link_google(stack, coach_id, browser=browser, provider="outlook", decision="accept")


def connections(stack: Stack, coach_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.get(f"/coaches/{coach_id}/connections")["items"]
    return items


def google_events(stack: Stack, calendar_id: str = COACH) -> dict[str, Any]:
    state = stack.control("GET", "/state")["google"]
    calendars = state["calendars"]
    found = (
        calendars.get(calendar_id)
        if isinstance(calendars, dict)
        else next(c for c in calendars if c["id"] == calendar_id)
    )
    events = found["events"]
    return {e["id"]: e for e in (events.values() if isinstance(events, dict) else events)}


def refresh_concurrently(stack: Stack, connection_id: str, threads: int = 4) -> list[BaseException]:
    """Ask for fresh tokens from several threads at once; returns what they raised."""
    import threading
    import uuid

    from app.calendars import fresh_tokens
    from app.hub import hub

    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            with stack.app.app_context():
                fresh_tokens(hub(), uuid.UUID(connection_id))
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            errors.append(err)

    started = [threading.Thread(target=refresh) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(timeout=30)
    return errors
