"""Google emulation, mounted at /google: OAuth, Calendar API v3, batch, push notifications.

Point the hub at it with SESSIONHUB_GOOGLE_API_URL = SESSIONHUB_GOOGLE_OAUTH_URL = `{url}/google`:
the Calendar API is `/google/calendar/v3/`, batch `/google/batch/calendar/v3`, consent
`/google/o/oauth2/auth`, token `/google/token`, revoke `/google/revoke`.
"""

from __future__ import annotations

from http import HTTPStatus

from flask import Blueprint, Response, request

from connectors.sandbox import google_batch, google_calendars, google_events, google_oauth
from connectors.sandbox.api import ApiError, ProviderApi, bearer, current, json_response
from connectors.sandbox.google_models import GoogleError, domain_of

PREFIX = "/google"
BATCH_ENVIRON = google_batch.BATCH_ENVIRON
_REASONS = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    405: "httpMethodNotAllowed",
    409: "conflict",
    410: "deleted",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
}
_MESSAGES = {
    "authError": "Invalid Credentials",
    "required": "Login Required",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "quotaExceeded": "Quota Exceeded",
    "backendError": "Backend Error",
    "notFound": "Not Found",
    "deleted": "Resource has been deleted",
    "fullSyncRequired": "Sync token is no longer valid, a full sync is required.",
    "duplicate": "The requested identifier already exists.",
}
_OAUTH_CODES = {400: "invalid_request", 401: "invalid_client", 429: "rate_limit_exceeded"}
_REALM = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'

blueprint = Blueprint("google", __name__)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _api_error(err: ApiError) -> Response:
    """Calendar API v3's error body: {"error": {"errors": [{domain, reason, message}], ...}}."""
    fallback = "backendError" if err.status >= 500 else "badRequest"
    reason = err.code or _REASONS.get(err.status, fallback)
    message = err.message
    if message == _phrase(err.status):
        message = _MESSAGES.get(reason, message)
    detail = {"domain": domain_of(reason), "reason": reason, "message": message}
    headers = dict(err.headers)
    if err.status == 401:
        detail.update(locationType="header", location="Authorization")
        headers.setdefault("WWW-Authenticate", _REALM)
    body = {"error": {"errors": [detail], "code": err.status, "message": message}}
    return json_response(body, err.status, headers)


def render(err: ApiError) -> Response:
    """OAuth endpoints answer OAuth JSON, consent pages HTML, everything else the API's shape."""
    path = request.path[len(PREFIX) :]
    if path in google_oauth.TOKEN_PATHS + google_oauth.REVOKE_PATHS:
        fallback = "internal_failure" if err.status >= 500 else "invalid_request"
        code = err.code or _OAUTH_CODES.get(err.status, fallback)
        body = {"error": code, "error_description": err.message}
        return json_response(body, err.status, err.headers)
    if path.startswith("/o/oauth2/"):
        response = google_oauth.error_page(err.status, err.code or _phrase(err.status), err.message)
        response.headers.update(err.headers)
        return response
    return _api_error(err)


def authenticate(header: str | None, key: str | None) -> ApiError | None:
    """Calendar API calls need a live access token; OAuth and the batch envelope do not."""
    if not request.path.startswith(f"{PREFIX}/calendar/"):
        return None
    token = bearer(header)
    if token is None:
        return ApiError(401, "Login Required", "required")
    if current().state.google.oauth.account_for(token) is None:
        return ApiError(401, "Invalid Credentials", "authError")
    return None


def _google_error(err: GoogleError) -> Response:
    return render(ApiError(err.status, err.message, err.reason))


blueprint.register_blueprint(google_oauth.blueprint)
blueprint.register_blueprint(google_batch.blueprint)
blueprint.register_blueprint(google_events.blueprint, url_prefix="/calendar/v3")
blueprint.register_blueprint(google_calendars.blueprint, url_prefix="/calendar/v3")
blueprint.register_error_handler(GoogleError, _google_error)

PROVIDER = ProviderApi("google", PREFIX, blueprint, authenticate, render)
