"""Google OAuth in the sandbox: consent page, approve, code exchange, refresh, revoke."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google_auth_oauthlib.flow import Flow

from tests.connectors.sandbox.conftest import GOOGLE_REDIRECT, GOOGLE_SCOPES, Api, google_auth_query


class Form(HTMLParser):
    """The consent page's headings, inputs and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def inputs(self) -> dict[str, str | None]:
        return {str(a["name"]): a.get("value") for t, a in self.tags if t == "input"}


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


@pytest.fixture
def insecure_oauthlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """oauthlib refuses http:// unless told the transport is a test one."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def transport() -> Iterator[Request]:
    with requests.Session() as session:
        yield Request(session)


def test_the_consent_page_is_a_plain_accessible_form(api: Api) -> None:
    query = google_auth_query(api, prompt="consent")
    page = api.google("GET", "/o/oauth2/auth", None, params=query)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    form = parse(page.text)
    assert "Sign in with Google (sandbox)" in form.text
    assert ("html", {"lang": "en"}) in form.tags
    inputs = form.inputs()
    assert inputs["login_hint"] == "coach@example.com"
    assert (inputs["state"], inputs["prompt"], inputs["redirect_uri"]) == (
        "xyz",
        "consent",
        GOOGLE_REDIRECT,
    )
    assert ("label", {"for": "login_hint"}) in form.tags
    assert all(scope in form.text for scope in GOOGLE_SCOPES)
    buttons = [a for t, a in form.tags if t == "button"]
    assert [(b["name"], b["value"]) for b in buttons] == [
        ("decision", "allow"),
        ("decision", "deny"),
    ]
    assert "Allow" in form.text
    assert "Deny" in form.text
    action = next(a for t, a in form.tags if t == "form")
    assert (action["method"], action["action"]) == ("post", "/google/o/oauth2/approve")

    hinted_query = google_auth_query(api, login_hint="a@b.io")
    hinted = api.google("GET", "/o/oauth2/auth", None, params=hinted_query)
    assert parse(hinted.text).inputs()["login_hint"] == "a@b.io"


def test_an_unknown_client_gets_a_400_page(api: Api) -> None:
    query = google_auth_query(api, client_id="nope")
    page = api.google("GET", "/o/oauth2/auth", None, params=query)
    assert (page.status_code, page.headers["Content-Type"][:9]) == (400, "text/html")
    assert "invalid_client" in page.text
    missing = api.google("GET", "/o/oauth2/auth", None, params=google_auth_query(api, scope=""))
    assert missing.status_code == 400


def test_flow_end_to_end_with_google_auth_oauthlib(
    api: Api, insecure_oauthlib: None, transport: Request
) -> None:
    """Flow (PKCE, Basic client auth) -> consent -> code -> token -> refresh -> invalid_grant."""
    url, config = api.sandbox.google_url, api.sandbox.sandbox.config
    client = {
        "web": {
            "client_id": config.google_client_id,
            "client_secret": config.google_client_secret,
            "auth_uri": f"{url}/o/oauth2/auth",
            "token_uri": f"{url}/token",
            "redirect_uris": [GOOGLE_REDIRECT],
        }
    }
    flow = Flow.from_client_config(client, scopes=list(GOOGLE_SCOPES), redirect_uri=GOOGLE_REDIRECT)
    try:
        auth_url, state = flow.authorization_url(prompt="consent", login_hint="ann@example.com")
        page = api.session.get(auth_url, timeout=5)
        fields: dict[str, Any] = dict(parse(page.text).inputs())
        approved = api.google(
            "POST",
            "/o/oauth2/approve",
            None,
            data={**fields, "decision": "allow"},
            allow_redirects=False,
        )
        assert approved.status_code == 302
        location = approved.headers["Location"]
        assert location.startswith(GOOGLE_REDIRECT + "?")
        assert parse_qs(urlsplit(location).query)["state"] == [state]
        flow.fetch_token(authorization_response=location)
    finally:
        flow.oauth2session.close()
    creds = flow.credentials
    assert creds.refresh_token
    assert creds.token
    listed = api.google("GET", "/calendar/v3/users/me/calendarList", creds.token)
    assert [c["id"] for c in listed.json()["items"]][0] == "ann@example.com"

    first = creds.token
    creds.refresh(transport)
    assert creds.token != first
    assert api.google("GET", "/calendar/v3/calendars/primary", creds.token).status_code == 200
    assert api.sandbox.state.google.oauth.refresh_count("ann@example.com") == 1

    revoked = api.control("POST", "/google/accounts/ann@example.com/revoke-grant")
    assert revoked.json() == {"revoked": 1}
    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(transport)
    dump = api.control("GET", "/state").json()["google"]["accounts"][0]
    assert (dump["refreshes"], dump["failed_refreshes"]) == (1, 1)


def test_deny_redirects_with_access_denied(api: Api) -> None:
    denied = api.google(
        "POST",
        "/o/oauth2/approve",
        None,
        data={**google_auth_query(api), "decision": "deny"},
        allow_redirects=False,
    )
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["Location"]).query) == {
        "error": ["access_denied"],
        "state": ["xyz"],
    }
    assert api.sandbox.state.google.accounts == {}
