"""Outlook identity emulation over HTTPS: the TLS listener, real msal, consent, token, revoke."""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from connectors.sandbox import RunningSandbox
from tests.connectors.sandbox.conftest import OUTLOOK_REDIRECT, Outlook

SCOPES = ["Calendars.ReadWrite"]


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def inputs(self) -> dict[str, str]:
        return {str(a["name"]): str(a.get("value") or "") for t, a in self.tags if t == "input"}


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def claims(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    body: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return body


def msal_app(sandbox: RunningSandbox, http: requests.Session) -> msal.ConfidentialClientApplication:
    config = sandbox.sandbox.config
    return msal.ConfidentialClientApplication(
        config.outlook_client_id,
        client_credential=config.outlook_client_secret,
        authority=f"{sandbox.https_url}/outlook/common",
        instance_discovery=False,
        http_client=http,
    )


def test_the_https_listener_is_trusted_only_through_the_sandbox_ca(outlook: Outlook) -> None:
    sandbox = outlook.sandbox
    assert sandbox.https_url is not None
    assert sandbox.https_url.startswith("https://127.0.0.1:")
    url = f"{sandbox.https_url}/outlook/common/v2.0/.well-known/openid-configuration"
    with outlook.session.get(url, timeout=5) as found:
        assert found.status_code == 200
        config = found.json()
    assert config["token_endpoint"] == f"{sandbox.https_url}/outlook/common/oauth2/v2.0/token"
    assert config["authorization_endpoint"].endswith("/outlook/common/oauth2/v2.0/authorize")
    with requests.Session() as plain:
        plain.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(url, timeout=5)
    context = ssl.create_default_context(cafile=sandbox.ca_bundle)
    assert context.cert_store_stats()["x509_ca"] == 1


def test_hub_env_points_the_hub_at_the_https_listener(sandbox: RunningSandbox) -> None:
    env = sandbox.hub_env()
    assert env["SESSIONHUB_OUTLOOK_AUTHORITY_URL"] == f"{sandbox.https_url}/outlook"
    assert env["SESSIONHUB_OUTLOOK_API_URL"] == f"{sandbox.https_url}/outlook/v1.0"
    assert env["SESSIONHUB_OUTLOOK_CA_BUNDLE"] == sandbox.ca_bundle
    assert env["SESSIONHUB_OUTLOOK_TENANT"] == "common"
    assert env["SESSIONHUB_OUTLOOK_CLIENT_ID"] == sandbox.sandbox.config.outlook_client_id
    assert env["SESSIONHUB_OUTLOOK_CLIENT_SECRET"] == sandbox.sandbox.config.outlook_client_secret


def test_msal_connects_refreshes_and_sees_the_revoke(outlook: Outlook) -> None:
    sandbox = outlook.sandbox
    app = msal_app(sandbox, outlook.session)
    flow = app.initiate_auth_code_flow(
        SCOPES,
        redirect_uri=OUTLOOK_REDIRECT,
        login_hint="Pat@Example.com",
        response_mode="form_post",
    )
    with outlook.session.get(flow["auth_uri"], timeout=5) as consent:
        assert consent.status_code == 200
        page = parse(consent.text)
    assert "Sign in with Microsoft (sandbox)" in page.text
    fields = page.inputs()
    assert fields["login_hint"] == "Pat@Example.com"
    form = {**fields, "decision": "accept"}
    action = next(str(a["action"]) for t, a in page.tags if t == "form")
    with outlook.session.post(f"{sandbox.https_url}{action}", data=form, timeout=5) as approved:
        posted = parse(approved.text)
    assert ("form", {"method": "post", "action": OUTLOOK_REDIRECT, "id": "response"}) in posted.tags
    result = app.acquire_token_by_auth_code_flow(flow, posted.inputs())
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == "pat@example.com"
    (account,) = app.get_accounts()
    assert account["username"] == "pat@example.com"

    me = outlook.graph("GET", "/me", result["access_token"]).json()
    assert me["mail"] == me["userPrincipalName"] == "pat@example.com"
    refreshed = app.acquire_token_silent(SCOPES, account=account, force_refresh=True)
    assert refreshed is not None
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["refresh_token"] != result["refresh_token"]  # rotated
    assert outlook.graph("GET", "/me", refreshed["access_token"]).status_code == 200

    revoked = outlook.control("POST", "/accounts/pat@example.com/revoke-grant")
    assert revoked.json()["revoked"] is True
    failed = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert failed is not None
    assert failed["error"] == "invalid_grant"
    assert failed["error_description"].startswith("AADSTS70000")
    gone = outlook.graph("GET", "/me", refreshed["access_token"])
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "InvalidAuthenticationToken"
    state = outlook.control("GET", "").json()
    (row,) = state["accounts"]
    assert (row["refresh_count"], row["refresh_failures"]) == (2, 1)


def test_query_response_mode_redirects_and_cancel_is_access_denied(outlook: Outlook) -> None:
    approved = outlook.approve()
    assert approved.status_code == 302
    query = parse_qs(urlsplit(approved.headers["Location"]).query)
    assert set(query) == {"code", "state", "session_state"}
    cancelled = outlook.approve(decision="cancel")
    query = parse_qs(urlsplit(cancelled.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st"]


def test_code_exchange_checks_pkce_and_echoes_the_nonce(outlook: Outlook) -> None:
    verifier = "v" * 50
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    extra = {"code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-1"}
    for given, status in (("wrong", 400), (verifier, 200)):
        approved = outlook.approve(**extra)
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
        answer = outlook.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=OUTLOOK_REDIRECT,
            code_verifier=given,
        )
        assert answer.status_code == status, answer.text
    body = answer.json()
    assert claims(body["id_token"])["nonce"] == "n-1"
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert set(info) == {"uid", "utid"}


def test_interaction_required_and_expired_tokens(outlook: Outlook) -> None:
    tokens = outlook.connect()
    assert outlook.control("POST", "/accounts/coach@example.com/expire-tokens").json() == {
        "expired": 1
    }
    assert outlook.graph("GET", "/me", tokens["access_token"]).status_code == 401
    again = outlook.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 200
    outlook.control("POST", "/accounts/coach@example.com/interaction-required", json={})
    refused = outlook.token(grant_type="refresh_token", refresh_token=again.json()["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "interaction_required"
    assert outlook.token(grant_type="refresh_token", refresh_token="nope").status_code == 400
    bad_secret = outlook.token(
        grant_type="refresh_token", refresh_token="x", client_secret="wrong-secret"
    )
    assert bad_secret.json()["error"] == "invalid_client"
