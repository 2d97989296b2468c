"""Security headers on every response (the session cookie's flags are set in app/__init__.py).

Pages carry no inline script or style (styles are in app/static), so the policy allows none;
the coach pages carry link tokens and OAuth state in their URLs, hence no referrer at all.
"""

from __future__ import annotations

from flask import Flask, Response

from app.config import Settings

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


def headers_for(settings: Settings) -> dict[str, str]:
    """The headers added to every response (a view may set its own value first)."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
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
