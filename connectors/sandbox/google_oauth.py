"""Google's OAuth 2.0 web-server flow: consent page, approve, token (code, refresh), revoke.

What google-auth-oauthlib's Flow and google-auth's Credentials call, with the sandbox's one
client (SandboxConfig.google_client_id/_secret). Consent makes the account on first use.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import unquote_plus, urlencode

from flask import Blueprint, Response, request

from connectors.sandbox.api import current, json_response
from connectors.sandbox.google_http import store
from connectors.sandbox.google_models import GoogleError

AUTH_PATHS = ("/o/oauth2/auth", "/o/oauth2/v2/auth")
APPROVE_PATH = "/o/oauth2/approve"
TOKEN_PATHS = ("/token", "/o/oauth2/token")
REVOKE_PATHS = ("/revoke", "/o/oauth2/revoke")
DEFAULT_LOGIN = "coach@example.com"
TITLE = "Sign in with Google (sandbox)"

blueprint = Blueprint("google_oauth", __name__)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _checked(params: Mapping[str, str]) -> tuple[str, list[str]]:
    """The redirect URI and scopes of an authorization request; a 400 page when it is bad."""
    if not _same(params.get("client_id"), current().config.google_client_id):
        raise GoogleError(400, "invalid_client", "The OAuth client was not found.")
    redirect_uri = params.get("redirect_uri") or ""
    if not redirect_uri.startswith(("http://", "https://")):
        raise GoogleError(400, "invalid_request", "Missing or invalid parameter: redirect_uri")
    if params.get("response_type") != "code":
        raise GoogleError(400, "unsupported_response_type", "response_type must be code")
    scopes = (params.get("scope") or "").split()
    if not scopes:
        raise GoogleError(400, "invalid_request", "Missing required parameter: scope")
    return redirect_uri, scopes


def page(title: str, body: str, status: int = 200) -> Response:
    """A plain, accessible HTML page."""
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
    return Response(html, status, content_type="text/html; charset=utf-8")


def error_page(status: int, reason: str, message: str) -> Response:
    """How the consent endpoints say no."""
    body = f"<h1>Error {status}: {escape(reason)}</h1>\n<p>{escape(message)}</p>\n"
    return page(f"Error {status}: {reason}", body, status)


def consent_page(params: Mapping[str, str], scopes: list[str]) -> Response:
    """The consent form: e-mail, requested scopes, Allow and Deny (both POST to approve)."""
    login = params.get("login_hint") or DEFAULT_LOGIN
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">\n'
        for k, v in params.items()
        if k != "login_hint"
    )
    listed = "".join(f"<li>{escape(s)}</li>\n" for s in scopes)
    body = (
        f"<h1>{TITLE}</h1>\n"
        f'<form method="post" action="/google{APPROVE_PATH}">\n{hidden}'
        '<p><label for="login_hint">E-mail address</label>\n'
        '<input id="login_hint" name="login_hint" type="email" autocomplete="email" required '
        f'value="{escape(login)}"></p>\n'
        '<h2 id="scopes-heading">The app asks to</h2>\n'
        f'<ul aria-labelledby="scopes-heading">\n{listed}</ul>\n'
        '<p><button type="submit" name="decision" value="allow">Allow</button>\n'
        '<button type="submit" name="decision" value="deny" formnovalidate>Deny</button></p>\n'
        "</form>\n"
    )
    return page(TITLE, body)


def _redirect(uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{query}"})


@blueprint.get(AUTH_PATHS[0])
@blueprint.get(AUTH_PATHS[1])
def consent() -> Response:
    """GET /o/oauth2/auth?client_id&redirect_uri&response_type=code&scope&state&..."""
    params = request.args.to_dict()
    _, scopes = _checked(params)
    return consent_page(params, scopes)


@blueprint.post(APPROVE_PATH)
def approve() -> Response:
    """Allow -> 302 redirect_uri?code&scope&state; Deny -> ?error=access_denied&state."""
    form = request.form.to_dict()
    redirect_uri, scopes = _checked(form)
    state = form.get("state")
    if form.get("decision") != "allow":
        return _redirect(redirect_uri, {"error": "access_denied", "state": state})
    account, _ = store().ensure_account(form.get("login_hint") or DEFAULT_LOGIN)
    code = store().oauth.issue_code(
        client_id=form["client_id"],
        redirect_uri=redirect_uri,
        email=account.email,
        scopes=scopes,
        offline=form.get("access_type") == "offline",
        consent="consent" in (form.get("prompt") or "").split(),
        challenge=form.get("code_challenge") or None,
        challenge_method=form.get("code_challenge_method") or "plain",
    )
    return _redirect(redirect_uri, {"code": code.code, "scope": " ".join(scopes), "state": state})


def _form() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def _client(form: Mapping[str, Any]) -> str:
    """Client authentication: client_id/client_secret in the body, or HTTP Basic."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username is not None:
        client_id, secret = unquote_plus(auth.username), unquote_plus(auth.password or "")
    config = current().config
    if not _same(client_id, config.google_client_id):
        raise GoogleError(401, "invalid_client", "The OAuth client was not found.")
    if not _same(secret, config.google_client_secret):
        raise GoogleError(401, "invalid_client", "Unauthorized")
    return config.google_client_id


@blueprint.post(TOKEN_PATHS[0])
@blueprint.post(TOKEN_PATHS[1])
def token() -> Response:
    """grant_type=authorization_code or refresh_token."""
    form = _form()
    client_id = _client(form)
    grant_type = form.get("grant_type")
    oauth = store().oauth
    if grant_type == "authorization_code":
        issued = oauth.redeem(
            str(form.get("code") or ""),
            client_id,
            form.get("redirect_uri"),
            form.get("code_verifier"),
        )
    elif grant_type == "refresh_token":
        issued = oauth.refresh(str(form.get("refresh_token") or ""), client_id, form.get("scope"))
    else:
        raise GoogleError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    return json_response(issued.to_json(), headers={"Cache-Control": "no-store"})


@blueprint.route(REVOKE_PATHS[0], methods=["GET", "POST"])
@blueprint.route(REVOKE_PATHS[1], methods=["GET", "POST"])
def revoke() -> Response:
    """POST /revoke?token=<access or refresh token>: the whole grant goes."""
    value = request.args.get("token") or _form().get("token")
    if not value or not store().oauth.revoke(str(value)):
        raise GoogleError(400, "invalid_token", "Token expired or revoked")
    return json_response({})
