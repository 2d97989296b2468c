"""Security headers on every response (the session cookie's flags are set in app/__init__.py).

Pages carry no inline script or style (styles are in app/static), so the policy allows none;
the coach pages carry link tokens and OAuth state in their URLs, hence no referrer at all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from app.config import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


def oauth_origins(settings: Settings) -> list[str]:
    """Origins of the configured consent screens.

    A coach's "Continue" form posts to the hub, which redirects to the provider: browsers check
    form-action on the redirects after a form submission too, so these origins are allowed.
    """
    from connectors.google.oauth import endpoints as google_endpoints
    from connectors.outlook import const as outlook_const

    urls = []
    if "google" in settings.oauth:
        urls.append(google_endpoints(settings.oauth["google"]).auth_url)
    if "outlook" in settings.oauth:
        urls.append(settings.oauth["outlook"].get("authority_url") or outlook_const.AUTHORITY_URL)
    origins = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return sorted(set(origins))


def content_security_policy(settings: Settings) -> str:
    """The policy: no inline code, no framing, forms to the hub and its consent screens only."""
    return " ".join([CONTENT_SECURITY_POLICY, *oauth_origins(settings)])


def headers_for(settings: Settings) -> dict[str, str]:
    """The headers added to every response (a view may set its own value first)."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }
    if settings.public_url.startswith("https:"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def install(app: Flask, settings: Settings) -> None:
    """Add the headers to every response, error answers and static files included."""
    items = tuple(headers_for(settings).items())

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in items:
            response.headers.setdefault(name, value)
        return response


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with nothing to verify when no cookie came: provider
    webhooks, probes and API calls carry none, and Flask would build a signer for each."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
