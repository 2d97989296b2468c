"""The ops dashboard under /dashboard: server-rendered pages behind an ops API key sign-in.

Sign-in exchanges an API key with the `ops` scope for the signed session cookie (HttpOnly,
SameSite=Lax, Secure when the hub is served over HTTPS); the key is re-checked on every request,
so revoking it ends every dashboard session at once. Every POST carries the session's CSRF token
in a hidden field (compared in constant time); the pages work without JavaScript.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.db import utcnow
from app.errors import HubError
from app.hub import hub
from app.masking import mask_text
from app.ops import human_duration, ops_key
from connectors.signing import equals

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

#: a dashboard sign-in lasts this long, then the key is asked for again
SIGN_IN_TTL = timedelta(hours=12)
_OPEN = {"dashboard.login", "dashboard.sign_in"}


class CsrfRefused(HubError):
    """A form post without the session's CSRF token."""

    status = 400


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("ops_csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["ops_csrf"] = token
    return token


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get("ops_csrf")
    if not sent:
        raise CsrfRefused(
            "the form has no CSRF token: open the page again and resend it", code="csrf_missing"
        )
    if not isinstance(expected, str) or not equals(sent, expected):
        raise CsrfRefused(
            "the form's CSRF token does not match this session (expired or from another "
            "browser): open the page again and resend it",
            code="csrf_invalid",
        )


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a dashboard path only (never another site)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard"):
            return target
    return url_for("dashboard.overview")


@bp.before_request
def _guard() -> Response | None:
    if request.method == "POST":
        _check_csrf()
    if request.endpoint in _OPEN:
        return None
    signed = session.get("ops")
    if isinstance(signed, dict):
        at = signed.get("at")
        fresh = isinstance(at, str) and utcnow() - datetime.fromisoformat(at) < SIGN_IN_TTL
        key = None
        if fresh and isinstance(signed.get("key"), int):
            with hub().db.session() as db:
                key = ops_key(db, signed["key"])
        if key is not None:
            g.ops_key = key
            return None
        session.pop("ops", None)
    nxt = request.full_path if request.method == "GET" else None
    return redirect(url_for("dashboard.login", next=nxt.rstrip("?") if nxt else None))


@bp.after_request
def _no_store(resp: Response) -> Response:
    # pages show deliveries and personal data: no shared or browser cache keeps them
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.errorhandler(HubError)
def _hub_error(err: HubError) -> tuple[str, int]:
    return _problem(err.status, err.code, err.message)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> tuple[str, int]:
    code = (err.name or "error").lower().replace(" ", "_")
    return _problem(err.code or 500, code, err.description or err.name)


def _problem(status: int, code: str, message: str) -> tuple[str, int]:
    return render_template(
        "dashboard/problem.html", status=status, code=code, message=message
    ), status


@bp.app_template_filter("ops_when")
def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


@bp.app_template_filter("ops_ago")
def _ago(value: datetime | None) -> str:
    return f"{human_duration(utcnow() - value)} ago" if value else "never"


@bp.app_template_filter("ops_in")
def _in(value: datetime | None) -> str:
    if value is None:
        return "—"
    left = value - utcnow()
    return f"in {human_duration(left)}" if left.total_seconds() >= 0 else "expired"


@bp.app_template_filter("ops_mask")
def _mask(value: str | None) -> str:
    return mask_text(value) if value else ""


@bp.app_template_filter("ops_secs")
def _secs(value: float | None) -> str:
    return human_duration(value) if value is not None else "—"


@bp.context_processor
def _context() -> dict[str, Any]:
    key = g.get("ops_key")
    return {
        "csrf_token": csrf_token,
        "ops_user": key.name if key is not None else None,
        "embedded": current_app.extensions["sessionhub"].settings.embedded,
    }


from app.http.dashboard import actions, auth, pages  # noqa: E402,F401  (routes)
