"""Google's token endpoint in the sandbox: codes, client auth, PKCE, refresh, revoke, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials

from tests.connectors.sandbox.conftest import GOOGLE_REDIRECT, GOOGLE_SCOPES, Api, google_auth_query


@pytest.fixture
def transport() -> Iterator[Request]:
    with requests.Session() as session:
        yield Request(session)


def _code(api: Api, **extra: str) -> str:
    approved = api.google(
        "POST",
        "/o/oauth2/approve",
        None,
        data={**google_auth_query(api, **extra), "login_hint": "bo@x.io", "decision": "allow"},
        allow_redirects=False,
    )
    return parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]


def _exchange(api: Api, code: str, **extra: Any) -> requests.Response:
    config = api.sandbox.sandbox.config
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": GOOGLE_REDIRECT,
        "client_id": config.google_client_id,
        "client_secret": config.google_client_secret,
        **extra,
    }
    return api.google("POST", "/token", None, data={k: v for k, v in data.items() if v is not None})


def test_codes_are_single_use_and_bound_to_the_redirect_uri(api: Api) -> None:
    code = _code(api)
    wrong = _exchange(api, code, redirect_uri="http://evil.example/cb")
    assert (wrong.status_code, wrong.json()["error"]) == (400, "redirect_uri_mismatch")
    ok = _exchange(api, code)
    assert ok.status_code == 200
    body = ok.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (3600, "Bearer")
    assert body["scope"] == " ".join(GOOGLE_SCOPES)
    again = _exchange(api, code)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


def test_client_authentication_by_basic_or_body(api: Api) -> None:
    config = api.sandbox.sandbox.config
    basic = api.google(
        "POST",
        "/token",
        None,
        data={
            "grant_type": "authorization_code",
            "code": _code(api),
            "redirect_uri": GOOGLE_REDIRECT,
        },
        auth=(config.google_client_id, config.google_client_secret),
    )
    assert basic.status_code == 200
    bad = _exchange(api, _code(api), client_secret="wrong")
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")
    unknown = api.google("POST", "/token", None, data={"grant_type": "password"})
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")


def test_pkce_verifier_must_match(api: Api) -> None:
    code = _code(api, code_challenge="plain-verifier-0123456789", code_challenge_method="plain")
    bad = _exchange(api, code, code_verifier="other")
    assert (bad.status_code, bad.json()["error_description"]) == (400, "Invalid code verifier.")


def test_refresh_token_only_on_first_consent_or_prompt_consent(api: Api) -> None:
    first = _exchange(api, _code(api)).json()
    quiet = _exchange(api, _code(api)).json()
    assert "refresh_token" not in quiet
    forced = _exchange(api, _code(api, prompt="consent")).json()
    assert forced["refresh_token"] != first["refresh_token"]
    online = _exchange(api, _code(api, access_type="online")).json()
    assert "refresh_token" not in online


def test_refresh_grant_and_its_errors(api: Api) -> None:
    tokens = api.google_connect("cy@example.com")
    config = api.sandbox.sandbox.config
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": config.google_client_id,
        "client_secret": config.google_client_secret,
    }
    refreshed = api.google("POST", "/token", None, data=form)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "expires_in", "scope", "token_type"}
    # the old access token keeps working until it expires, like Google's
    assert api.google("GET", "/calendar/v3/calendars/primary", tokens["access_token"]).ok
    unknown = api.google("POST", "/token", None, data={**form, "refresh_token": "1//nope"})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    api.control("POST", "/google/accounts/cy@example.com/revoke-grant")
    revoked = api.google("POST", "/token", None, data=form)
    assert revoked.status_code == 400
    assert revoked.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    assert (
        api.google("GET", "/calendar/v3/calendars/primary", tokens["access_token"]).status_code
        == 401
    )
    oauth = api.sandbox.state.google.oauth
    assert (oauth.refresh_count("cy@example.com", ok=None), oauth.refresh_count(ok=None)) == (2, 3)


def test_revoke_endpoint_kills_the_grant(api: Api, transport: Request) -> None:
    tokens = api.google_connect("di@example.com")
    assert (
        api.google("POST", "/revoke", None, params={"token": tokens["access_token"]}).status_code
        == 200
    )
    again = api.google("POST", "/revoke", None, params={"token": tokens["access_token"]})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_token")
    config = api.sandbox.sandbox.config
    creds = Credentials(
        None,
        refresh_token=tokens["refresh_token"],
        token_uri=f"{api.sandbox.google_url}/token",
        client_id=config.google_client_id,
        client_secret=config.google_client_secret,
    )
    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(transport)


def test_expire_tokens_makes_the_api_answer_401_until_refreshed(api: Api) -> None:
    tokens = api.google_connect("ed@example.com")
    assert api.control("POST", "/google/accounts/ed@example.com/expire-tokens").json() == {
        "expired": 1
    }
    denied = api.google("GET", "/calendar/v3/calendars/primary", tokens["access_token"])
    assert denied.status_code == 401
    assert denied.json() == {
        "error": {
            "errors": [
                {
                    "domain": "global",
                    "reason": "authError",
                    "message": "Invalid Credentials",
                    "locationType": "header",
                    "location": "Authorization",
                }
            ],
            "code": 401,
            "message": "Invalid Credentials",
        }
    }
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    missing = api.google("GET", "/calendar/v3/calendars/primary", None)
    assert missing.json()["error"]["errors"][0]["reason"] == "required"
    assert (
        api.control("POST", "/google/accounts/nobody@example.com/expire-tokens").status_code == 404
    )
