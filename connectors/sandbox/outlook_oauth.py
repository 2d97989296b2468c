"""The Microsoft identity platform (v2.0) at `/outlook/{tenant}`: discovery, consent, token.

What msal 1.39 calls with `authority=f"{https_url}/outlook/common"` and `instance_discovery=False`:
OIDC discovery, the authorize page (browser), and the token endpoint (authorization_code with
PKCE and the nonce echoed in an unsigned id_token; refresh_token). Client: the sandbox's one
app (`SandboxConfig.outlook_client_id/_secret`), authenticated by secret in the body or Basic.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import unquote_plus, urlencode

from flask import Blueprint, Response, request

from connectors.sandbox.api import current, json_response
from connectors.sandbox.google_oauth import page
from connectors.sandbox.outlook_http import PREFIX, store
from connectors.sandbox.outlook_models import OutlookError
from connectors.sandbox.outlook_store import TENANT_ID

DEFAULT_LOGIN = "coach@example.com"
TITLE = "Sign in with Microsoft (sandbox)"
TOKEN_SUFFIX = "/oauth2/v2.0/token"  # noqa: S105 - a path
PAGE_SUFFIXES = ("/oauth2/v2.0/authorize", "/oauth2/v2.0/approve")

blueprint = Blueprint("outlook_oauth", __name__)


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def _root(tenant: str) -> str:
    return f"{request.host_url.rstrip('/')}{PREFIX}/{tenant}"


def issuer() -> str:
    return f"{request.host_url.rstrip('/')}{PREFIX}/{TENANT_ID}/v2.0"


@blueprint.get("/<tenant>/v2.0/.well-known/openid-configuration")
def discovery(tenant: str) -> Response:
    """OIDC discovery; every endpoint points back at this listener."""
    root = _root(tenant)
    return json_response(
        {
            "issuer": issuer(),
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "token_endpoint": f"{root}{TOKEN_SUFFIX}",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
    )


def _checked(params: Mapping[str, str]) -> tuple[str, list[str]]:
    if not _same(params.get("client_id"), current().config.outlook_client_id):
        raise OutlookError(400, "unauthorized_client", "AADSTS700016: Application not found.")
    redirect_uri = params.get("redirect_uri") or ""
    if not redirect_uri.startswith(("http://", "https://")):
        raise OutlookError(400, "invalid_request", "AADSTS900144: redirect_uri is missing.")
    if params.get("response_type") != "code":
        raise OutlookError(400, "unsupported_response_type", "response_type must be code")
    scopes = (params.get("scope") or "").split()
    if not scopes:
        raise OutlookError(400, "invalid_request", "AADSTS900144: scope is missing.")
    return redirect_uri, scopes


def _redirect(uri: str, params: dict[str, str | None], mode: str | None) -> Response:
    """302 to `uri?…`, or with `response_mode=form_post` a page that POSTs the form to `uri`."""
    kept = {k: v for k, v in params.items() if v is not None}
    if mode == "form_post":
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">\n'
            for k, v in kept.items()
        )
        body = (
            f'<form method="post" action="{escape(uri)}" id="response">\n{hidden}'
            '<noscript><button type="submit">Continue</button></noscript>\n</form>\n'
            "<script>document.getElementById('response').submit()</script>\n"
        )
        return page("Working...", body)
    query = urlencode(kept)
    return Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})


@blueprint.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant: str) -> Response:
    """The consent page: e-mail address, requested permissions, Accept / Cancel."""
    params = request.args.to_dict()
    _, scopes = _checked(params)
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">\n'
        for k, v in params.items()
        if k != "login_hint"
    )
    listed = "".join(f"<li>{escape(s)}</li>\n" for s in scopes)
    login = params.get("login_hint") or DEFAULT_LOGIN
    body = (
        f"<h1>{TITLE}</h1>\n"
        f'<form method="post" action="{PREFIX}/{escape(tenant)}/oauth2/v2.0/approve">\n{hidden}'
        '<p><label for="login_hint">E-mail address</label>\n'
        '<input id="login_hint" name="login_hint" type="email" autocomplete="email" required '
        f'value="{escape(login)}"></p>\n'
        '<h2 id="scopes-heading">Permissions requested</h2>\n'
        f'<ul aria-labelledby="scopes-heading">\n{listed}</ul>\n'
        '<p><button type="submit" name="decision" value="accept">Accept</button>\n'
        '<button type="submit" name="decision" value="cancel" formnovalidate>Cancel</button></p>\n'
        "</form>\n"
    )
    return page(TITLE, body)


@blueprint.post("/<tenant>/oauth2/v2.0/approve")
def approve(tenant: str) -> Response:
    """Accept -> 302 redirect_uri?code&state&session_state; Cancel -> ?error=access_denied.

    With `response_mode=form_post` (what msal 1.39 recommends; it warns otherwise) the same
    fields come as an auto-submitting HTML form POSTed to redirect_uri, as Entra does."""
    form = request.form.to_dict()
    redirect_uri, scopes = _checked(form)
    state, mode = form.get("state"), form.get("response_mode")
    if form.get("decision") != "accept":
        description = "AADSTS65004: User declined to consent to access the app."
        return _redirect(
            redirect_uri,
            {"error": "access_denied", "error_description": description, "state": state},
            mode,
        )
    account, _ = store().ensure_account(form.get("login_hint") or DEFAULT_LOGIN)
    code = store().issue_code(
        client_id=form["client_id"],
        redirect_uri=redirect_uri,
        email=account.email,
        scopes=scopes,
        nonce=form.get("nonce") or None,
        challenge=form.get("code_challenge") or None,
        method=form.get("code_challenge_method") or "plain",
    )
    answer = {"code": code.code, "state": state, "session_state": TENANT_ID}
    return _redirect(redirect_uri, answer, mode)


def _client(form: Mapping[str, Any]) -> str:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username is not None:
        client_id, secret = unquote_plus(auth.username), unquote_plus(auth.password or "")
    config = current().config
    if not _same(client_id, config.outlook_client_id):
        raise OutlookError(400, "unauthorized_client", "AADSTS700016: Application not found.")
    if not _same(secret, config.outlook_client_secret):
        raise OutlookError(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    return config.outlook_client_id


@blueprint.post("/<tenant>" + TOKEN_SUFFIX)
def token(tenant: str) -> Response:
    """grant_type=authorization_code or refresh_token."""
    form = request.form.to_dict()
    client_id = _client(form)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        issued = store().redeem(
            form.get("code") or "",
            client_id,
            form.get("redirect_uri"),
            form.get("code_verifier"),
            issuer(),
        )
    elif grant == "refresh_token":
        scopes = (form.get("scope") or "").split()
        issued = store().refresh(form.get("refresh_token") or "", client_id, scopes, issuer())
    else:
        raise OutlookError(400, "unsupported_grant_type", f"AADSTS70003: {grant}")
    return json_response(issued.body, headers={"Cache-Control": "no-store"})
