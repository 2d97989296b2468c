"""Outlook (Microsoft identity platform + Graph v1.0) emulation, mounted at /outlook.

Identity: `/outlook/{tenant}/v2.0/.well-known/openid-configuration`, `…/oauth2/v2.0/authorize`,
`…/oauth2/v2.0/token`. Graph: `/outlook/v1.0/…` (Bearer tokens from the token endpoint).
MSAL needs https, so point it at the sandbox's HTTPS listener (`RunningSandbox.https_url`,
trusting `RunningSandbox.ca_bundle`); every route is served on both listeners.
"""

from __future__ import annotations

import time
from http import HTTPStatus

from flask import Blueprint, Response, g, request

from connectors.sandbox import (
    outlook_batch,
    outlook_delta,
    outlook_graph,
    outlook_oauth,
    outlook_subscriptions,
)
from connectors.sandbox.api import ApiError, ProviderApi, bearer, json_response
from connectors.sandbox.google_oauth import error_page
from connectors.sandbox.outlook_http import GRAPH, PREFIX, store
from connectors.sandbox.outlook_models import OutlookError

#: Outlook's limit of concurrent requests per app and mailbox
MAX_CONCURRENT = 4
_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "ErrorAccessDenied",
    404: "ErrorItemNotFound",
    405: "MethodNotAllowed",
    409: "ErrorIrresolvableConflict",
    410: "SyncStateNotFound",
    412: "ErrorIrresolvableConflict",
    429: "ApplicationThrottled",
    503: "ServiceUnavailable",
}
_MESSAGES = {
    "InvalidAuthenticationToken": "Access token is empty.",
    "ApplicationThrottled": "Application is over its MailboxConcurrency limit.",
    "TooManyRequests": "Too many requests.",
}
_OAUTH_CODES = {400: "invalid_request", 401: "invalid_client", 429: "temporarily_unavailable"}

blueprint = Blueprint("outlook", __name__)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _graph_error(status: int, code: str | None, message: str, headers: dict[str, str]) -> Response:
    code = code or _CODES.get(status, "generalException" if status >= 500 else "BadRequest")
    if message == _phrase(status):
        message = _MESSAGES.get(code, message)
    if status == 429:
        headers.setdefault("Retry-After", "1")
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')
    body = {"error": {"code": code, "message": message, "innerError": {"date": ""}}}
    return json_response(body, status, headers)


def render(err: ApiError) -> Response:
    """OAuth JSON at the token endpoint, HTML on consent pages, Graph's shape elsewhere."""
    path = request.path[len(PREFIX) :]
    headers = dict(err.headers)
    if path.endswith(outlook_oauth.TOKEN_SUFFIX):
        fallback = "server_error" if err.status >= 500 else "invalid_request"
        code = err.code or _OAUTH_CODES.get(err.status, fallback)
        body: dict[str, object] = {"error": code, "error_description": err.message}
        if err.message.startswith("AADSTS"):
            body["error_codes"] = [int(err.message[6:].split(":")[0])]
        return json_response(body, err.status, headers)
    if path.endswith(outlook_oauth.PAGE_SUFFIXES):
        page = error_page(err.status, err.code or _phrase(err.status), err.message)
        page.headers.update(headers)
        return page
    return _graph_error(err.status, err.code, err.message, headers)


def authenticate(header: str | None, key: str | None) -> ApiError | None:
    """Graph calls need a live access token; the identity endpoints do not."""
    if not request.path.startswith(PREFIX + GRAPH + "/"):
        return None
    token = bearer(header)
    if token is None:
        return ApiError(401, "Access token is empty.", "InvalidAuthenticationToken")
    if store().account_for(token) is None:
        return ApiError(
            401, "Access token has expired or is not yet valid.", "InvalidAuthenticationToken"
        )
    return None


def _outlook_error(err: OutlookError) -> Response:
    return render(ApiError(err.status, err.message, err.code))


@blueprint.before_request
def _admit() -> Response | None:
    """At most MAX_CONCURRENT Graph calls in flight per mailbox; the next gets 429."""
    if not request.path.startswith(PREFIX + GRAPH + "/") or request.path.endswith("/$batch"):
        return None
    outlook = store()
    account = outlook.account_for(bearer(request.headers.get("Authorization")) or "")
    if account is None:
        return None
    email = account.email
    with outlook.lock:
        running = outlook.in_flight.get(email, 0) + 1
        outlook.max_concurrency[email] = max(outlook.max_concurrency.get(email, 0), running)
        if running > MAX_CONCURRENT:
            outlook.throttled[email] = outlook.throttled.get(email, 0) + 1
            return _graph_error(429, "ApplicationThrottled", _phrase(429), {"Retry-After": "1"})
        outlook.in_flight[email] = running
        latency = outlook.latency_s
    g.outlook_slot = email
    if latency > 0:
        time.sleep(latency)
    return None


@blueprint.teardown_request
def _release(_: BaseException | None) -> None:
    email = g.pop("outlook_slot", None)
    if email is None:
        return
    outlook = store()
    with outlook.lock:
        outlook.in_flight[email] = max(0, outlook.in_flight.get(email, 0) - 1)


blueprint.register_blueprint(outlook_oauth.blueprint)
blueprint.register_blueprint(outlook_batch.blueprint, url_prefix=GRAPH)
blueprint.register_blueprint(outlook_graph.blueprint, url_prefix=GRAPH)
blueprint.register_blueprint(outlook_delta.blueprint, url_prefix=GRAPH)
blueprint.register_blueprint(outlook_subscriptions.blueprint, url_prefix=GRAPH)
blueprint.register_error_handler(OutlookError, _outlook_error)

PROVIDER = ProviderApi("outlook", PREFIX, blueprint, authenticate, render)
