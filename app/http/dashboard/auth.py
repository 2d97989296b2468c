"""Sign-in with an ops API key, sign-out."""

from __future__ import annotations

import logging
import secrets

from flask import redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.apikeys import authenticate
from app.db import iso, utcnow
from app.http.dashboard import bp, safe_next
from app.hub import hub

log = logging.getLogger(__name__)


@bp.get("/login")
def login() -> str:
    """The sign-in form."""
    return render_template("dashboard/login.html", next=safe_next(request.args.get("next")))


@bp.post("/login")
def sign_in() -> Response | tuple[str, int]:
    """Exchange an API key with the `ops` scope for a signed session cookie."""
    token = request.form.get("api_key", "").strip()
    nxt = safe_next(request.form.get("next"))
    with hub().db.session() as db:
        key = authenticate(db, token) if token else None
        problem = None
        if key is None:
            problem = "That key is unknown or revoked."
        elif "ops" not in (key.scopes or []):
            problem = (
                f"The key {key.name!r} has no ops scope. Create one with "
                "`sessionhub api-key create NAME --scope ops`."
            )
        key_id, name = (key.id, key.name) if key is not None else (None, None)
    if problem or key_id is None:
        log.warning("dashboard sign-in refused", extra={"key": name})
        return render_template("dashboard/login.html", next=nxt, problem=problem), 401
    # a fresh session on sign-in: nothing chosen before it (CSRF token included) carries over
    session.clear()
    session["ops"] = {"key": key_id, "at": iso(utcnow())}
    session["ops_csrf"] = secrets.token_urlsafe(32)
    log.info("dashboard sign-in", extra={"key": name})
    return redirect(nxt)


@bp.post("/logout")
def logout() -> Response:
    """End the dashboard session."""
    session.clear()
    return redirect(url_for("dashboard.login"))
