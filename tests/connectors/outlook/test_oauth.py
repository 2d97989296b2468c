"""MSAL against a fake https authority served by `responses`: begin/finish, refresh, errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.calendar import TokenSet
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.outlook import OutlookCalendarApi, OutlookOAuth
from connectors.outlook.push import OutlookConnector

HOST = "https://login.sandbox.test/outlook"
TENANT = "tenant-1"
AUTHORITY = f"{HOST}/{TENANT}"
DISCOVERY = f"{AUTHORITY}/v2.0/.well-known/openid-configuration"
TOKEN_URL = f"{AUTHORITY}/oauth2/v2.0/token"
ISSUER = f"{HOST}/tid-1/v2.0"
CLIENT_ID = "client-1"
REDIRECT = "https://hub.test/connect/outlook/callback"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = {
    "client_id": CLIENT_ID,
    "client_secret": "client-secret",
    "tenant": TENANT,
    "authority_url": HOST,
    "api_url": "https://graph.sandbox.test/v1.0",
    "ca_bundle": "/etc/sessionhub/sandbox-ca.pem",
}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def id_token(nonce: str | None = None) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "sub-1",
        "oid": "uid-1",
        "tid": "utid-1",
        "preferred_username": "coach@contoso.test",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    if nonce:
        claims["nonce"] = nonce
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.sig"


def token_answer(access: str, refresh: str, nonce: str | None = None) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "scope": "Calendars.ReadWrite User.Read",
        "expires_in": 3600,
        "ext_expires_in": 3600,
        "access_token": access,
        "refresh_token": refresh,
        "id_token": id_token(nonce),
        "client_info": b64({"uid": "uid-1", "utid": "utid-1"}),
    }


def form(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            DISCOVERY,
            json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                "token_endpoint": TOKEN_URL,
            },
        )
        yield mock


def oauth() -> OutlookOAuth:
    return OutlookOAuth(SETTINGS, clock=lambda: NOW, http_cache={})


def linked(rsps: responses.RequestsMock, flow_oauth: OutlookOAuth | None = None) -> TokenSet:
    """Run begin → consent → finish; the authority answers with at-1 / rt-1."""
    client = flow_oauth or oauth()
    url, flow = client.begin(REDIRECT, "hub-state")
    nonce = parse_qs(urlsplit(url).query)["nonce"][0]
    rsps.post(TOKEN_URL, json=token_answer("at-1", "rt-1", nonce))
    return client.finish(REDIRECT, {"code": "code-1", "state": "hub-state"}, flow)


def test_connector_builds_the_msal_flow() -> None:
    assert isinstance(OutlookConnector().oauth(SETTINGS), OutlookOAuth)


def test_begin_builds_a_consent_url_with_pkce(rsps: responses.RequestsMock) -> None:
    url, flow = oauth().begin(REDIRECT, "hub-state")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTHORITY}/oauth2/v2.0/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["state"] == "hub-state"
    assert query["redirect_uri"] == REDIRECT
    assert query["code_challenge_method"] == "S256"
    assert query["prompt"] == "select_account"
    assert query["response_mode"] == "query"  # a GET callback carries the SameSite=Lax cookie
    # MSAL adds the reserved scopes itself; the hub only asks for what it uses
    assert set(query["scope"].split()) == {
        "Calendars.ReadWrite",
        "User.Read",
        "offline_access",
        "openid",
        "profile",
    }
    assert flow["state"] == "hub-state"
    assert "code_verifier" in flow


def test_finish_redeems_the_code_with_the_verifier(rsps: responses.RequestsMock) -> None:
    client = oauth()
    url, flow = client.begin(REDIRECT, "hub-state")
    nonce = parse_qs(urlsplit(url).query)["nonce"][0]
    rsps.post(TOKEN_URL, json=token_answer("at-1", "rt-1", nonce))
    tokens = client.finish(REDIRECT, {"code": "code-1", "state": "hub-state"}, flow)
    assert tokens.access_token == "at-1"
    assert tokens.refresh_token is None  # it lives in the MSAL cache
    assert tokens.expires_at == NOW + timedelta(hours=1)
    assert tokens.scopes == ("Calendars.ReadWrite", "User.Read")
    assert tokens.extra["home_account_id"] == "uid-1.utid-1"
    assert "rt-1" in tokens.extra["msal_cache"]
    sent = form(rsps.calls[-1])
    assert sent["grant_type"] == "authorization_code"
    assert sent["code"] == "code-1"
    assert sent["code_verifier"] == flow["code_verifier"]


def test_a_forged_state_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    client = oauth()
    _, flow = client.begin(REDIRECT, "hub-state")
    with pytest.raises(AuthError, match="state"):
        client.finish(REDIRECT, {"code": "c", "state": "other"}, flow)


def test_a_replayed_id_token_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    client = oauth()
    _, flow = client.begin(REDIRECT, "hub-state")
    rsps.post(TOKEN_URL, json=token_answer("at-1", "rt-1", "another-nonce"))
    with pytest.raises(AuthError, match="id token"):
        client.finish(REDIRECT, {"code": "c", "state": "hub-state"}, flow)


def test_declined_consent_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    client = oauth()
    _, flow = client.begin(REDIRECT, "hub-state")
    query = {"error": "access_denied", "error_description": "declined", "state": "hub-state"}
    with pytest.raises(AuthError, match="access_denied"):
        client.finish(REDIRECT, query, flow)


def test_a_refused_code_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    client = oauth()
    _, flow = client.begin(REDIRECT, "hub-state")
    rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "used"})
    with pytest.raises(AuthError, match="invalid_grant"):
        client.finish(REDIRECT, {"code": "c", "state": "hub-state"}, flow)


def test_refresh_rotates_through_the_cache(rsps: responses.RequestsMock) -> None:
    client = oauth()
    tokens = linked(rsps, client)
    rsps.replace(responses.POST, TOKEN_URL, json=token_answer("at-2", "rt-2"))
    fresh = client.refresh(tokens)
    assert fresh.access_token == "at-2"
    assert fresh.extra["home_account_id"] == "uid-1.utid-1"
    assert "rt-2" in fresh.extra["msal_cache"]
    assert fresh.extra["msal_cache"] != tokens.extra["msal_cache"]
    sent = form(rsps.calls[-1])
    assert (sent["grant_type"], sent["refresh_token"]) == ("refresh_token", "rt-1")


def test_the_cache_is_written_back_only_when_changed(rsps: responses.RequestsMock) -> None:
    client = oauth()
    tokens = linked(rsps, client)
    calls = len(rsps.calls)
    same = client.refresh(tokens, force=False)  # the cached access token is still valid
    assert same.access_token == "at-1"
    assert same.extra is tokens.extra  # nothing new to store
    assert len(rsps.calls) == calls


def test_invalid_grant_on_refresh_is_an_auth_error(rsps: responses.RequestsMock) -> None:
    client = oauth()
    tokens = linked(rsps, client)
    rsps.replace(
        responses.POST,
        TOKEN_URL,
        status=400,
        json={"error": "invalid_grant", "error_description": "AADSTS70008: expired"},
    )
    with pytest.raises(AuthError, match="invalid_grant"):
        client.refresh(tokens)


def test_an_unavailable_authority_is_transient(rsps: responses.RequestsMock) -> None:
    client = oauth()
    tokens = linked(rsps, client)
    rsps.replace(responses.POST, TOKEN_URL, status=503, body="down")
    with pytest.raises(TransientError):
        client.refresh(tokens)


def test_temporarily_unavailable_is_transient(rsps: responses.RequestsMock) -> None:
    # a fresh client: msal replays a 5xx answer for a few seconds from its http cache
    client = oauth()
    tokens = linked(rsps, client)
    rsps.replace(responses.POST, TOKEN_URL, status=400, json={"error": "temporarily_unavailable"})
    with pytest.raises(TransientError, match="temporarily_unavailable"):
        client.refresh(tokens)


def test_an_unreachable_discovery_is_transient() -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(DISCOVERY, status=503)
        with pytest.raises(TransientError):
            oauth().begin(REDIRECT, "s")
        rsps.replace(responses.GET, DISCOVERY, status=404, body="no tenant")
        with pytest.raises(PermanentError, match="configuration"):
            oauth().begin(REDIRECT, "s")


def test_refresh_without_a_cache_or_account(rsps: responses.RequestsMock) -> None:
    client = oauth()
    with pytest.raises(AuthError, match="no token cache"):
        client.refresh(TokenSet("at", None, None))
    tokens = linked(rsps, client)
    other = TokenSet("at", None, None, extra={**tokens.extra, "home_account_id": "x.y"})
    with pytest.raises(AuthError, match="not in the token cache"):
        client.refresh(other)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # msal deprecates this pair
@pytest.mark.filterwarnings("ignore:response_mode:UserWarning")  # it is a query-string GET
def test_authorization_url_and_exchange_without_pkce(rsps: responses.RequestsMock) -> None:
    client = oauth()
    url = client.authorization_url(REDIRECT, "hub-state")
    query = parse_qs(urlsplit(url).query)
    assert query["state"] == ["hub-state"]
    assert "code_challenge" not in query
    rsps.post(TOKEN_URL, json=token_answer("at-9", "rt-9"))
    tokens = client.exchange(REDIRECT, "code-9")
    assert tokens.access_token == "at-9"
    assert "code_verifier" not in form(rsps.calls[-1])


def test_revoke_is_best_effort(rsps: responses.RequestsMock) -> None:
    client = oauth()
    client.revoke(linked(rsps, client))
    client.revoke(TokenSet("at", None, None))


def test_msal_trusts_the_sandbox_ca_and_skips_instance_discovery(
    rsps: responses.RequestsMock,
) -> None:
    client = oauth()
    assert client.known_authority is False
    app = client.app(__import__("msal").SerializableTokenCache())
    assert app.http_client.http_client.verify == SETTINGS["ca_bundle"]
    assert [c.request.url for c in rsps.calls] == [DISCOVERY]  # no login.microsoftonline.com


def test_settings_are_checked() -> None:
    assert OutlookOAuth({"client_id": "a", "client_secret": "b"}).known_authority is True
    assert (
        OutlookOAuth({"client_id": "a", "client_secret": "b"}).authority
        == "https://login.microsoftonline.com/common"
    )
    with pytest.raises(PermanentError, match="client_id"):
        OutlookOAuth({"client_id": "a"})
    with pytest.raises(PermanentError, match="https"):
        OutlookOAuth({**SETTINGS, "authority_url": "http://127.0.0.1:8765/outlook"})


def test_api_uses_the_account_and_the_ca_bundle() -> None:
    tokens = TokenSet("at", None, None, extra={"home_account_id": "uid-1.utid-1"})
    api = oauth().api(tokens)
    assert isinstance(api, OutlookCalendarApi)
    assert api.client.base_url == "https://graph.sandbox.test/v1.0"
    assert api.client.session.verify == SETTINGS["ca_bundle"]
