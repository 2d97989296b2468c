"""Coach-facing pages: link a calendar (OAuth), choose calendars, see sync health, unlink."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import select
from werkzeug.wrappers import Response

from app.calendars import coach_connection, oauth_for, seal
from app.db import utcnow
from app.hub import Hub, hub
from app.models import CalendarConnection, CalendarFeed, Coach
from connectors.errors import AuthError, ConnectorError
from connectors.signing import equals

bp = Blueprint("connect", __name__, url_prefix="/connect")
LINK_MAX_AGE = 15 * 60
NAMES = {"google": "Google Calendar", "outlook": "Outlook / Microsoft 365"}


def signer(h: Hub, purpose: str) -> URLSafeTimedSerializer:
    """Signs link tokens and OAuth state with the hub's secret key."""
    return URLSafeTimedSerializer(h.settings.secret_key, salt=f"sessionhub-{purpose}")


def link_url(h: Hub, coach_id: uuid.UUID, provider: str) -> str:
    """A short-lived signed URL a coach opens to link a calendar."""
    token = signer(h, "link").dumps({"coach": str(coach_id), "provider": provider})
    return f"{h.settings.public_url}/connect/{provider}?token={token}"


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, names=NAMES, **context), status


def _problem(message: str, status: int = 400) -> tuple[str, int]:
    return _page("connect/problem.html", status, message=message)


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    token: str = session["csrf"]
    return token


def _check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    if not sent or "csrf" not in session or not equals(sent, session["csrf"]):
        abort(400, "the form has expired; open the page again")


def _coach_in_session(provider: str) -> uuid.UUID:
    if session.get("provider") != provider or not session.get("coach"):
        abort(403, "open the link you were sent to manage this calendar")
    return uuid.UUID(session["coach"])


@bp.get("/<provider>")
def start(provider: str) -> tuple[str, int]:
    """The page a coach lands on from the link URL."""
    h = hub()
    if provider not in NAMES or oauth_for(h, provider) is None:
        return _problem(f"Linking {provider} is not available on this hub.", 404)
    try:
        claims = signer(h, "link").loads(request.args.get("token", ""), max_age=LINK_MAX_AGE)
    except SignatureExpired:
        return _problem("This link has expired. Ask for a new one.", 410)
    except BadSignature:
        return _problem("This link is not valid.", 400)
    if claims.get("provider") != provider:
        return _problem("This link is for another calendar provider.", 400)
    with h.db.session() as db:
        coach = db.get(Coach, uuid.UUID(claims["coach"]))
        if coach is None:
            return _problem("This link names a coach this hub does not know.", 404)
        name = coach.name or coach.email
    session.clear()
    session.update({"coach": claims["coach"], "provider": provider})
    return _page("connect/start.html", provider=provider, coach=name, csrf=_csrf())


@bp.post("/<provider>/authorize")
def authorize(provider: str) -> Response:
    """Send the coach to the provider's consent screen with a state bound to them."""
    _check_csrf()
    coach_id = _coach_in_session(provider)
    h = hub()
    oauth = oauth_for(h, provider)
    if oauth is None:
        abort(404)
    nonce = secrets.token_urlsafe(16)
    session["oauth_nonce"] = nonce
    state = signer(h, "oauth-state").dumps(
        {"coach": str(coach_id), "provider": provider, "nonce": nonce}
    )
    url, flow = oauth.begin(_callback_url(h, provider), state)
    if flow:  # PKCE verifier and nonce: kept encrypted in the browser's own session
        session["oauth_flow"] = h.crypto.encrypt(json.dumps(flow))
    return redirect(url)


def _callback_url(h: Hub, provider: str) -> str:
    return f"{h.settings.public_url}/connect/{provider}/callback"


@bp.get("/<provider>/callback")
def callback(provider: str) -> Response | tuple[str, int]:
    """The provider sends the coach back: verify state, trade the code, store the tokens."""
    h = hub()
    oauth = oauth_for(h, provider)
    if oauth is None:
        return _problem(f"Linking {provider} is not available on this hub.", 404)
    try:
        state = signer(h, "oauth-state").loads(request.args.get("state", ""), max_age=LINK_MAX_AGE)
    except BadSignature:
        return _problem("This sign-in answer is not valid (expired or tampered with).")
    nonce = session.pop("oauth_nonce", None)
    if (
        state.get("provider") != provider
        or state.get("coach") != session.get("coach")
        or not nonce
        or not equals(nonce, str(state.get("nonce", "")))
    ):
        return _problem(
            "This sign-in answer does not belong to this browser session "
            "(replayed, or started elsewhere). Open your link again."
        )
    if request.args.get("error"):
        return _problem("The calendar was not linked: access was declined.", 200)
    try:
        sealed = session.pop("oauth_flow", None)
        flow = json.loads(h.crypto.decrypt(sealed)) if sealed else {}
        tokens = oauth.finish(_callback_url(h, provider), request.args.to_dict(), flow)
        email = oauth.api(tokens).account_email()
    except AuthError:
        return _problem("The provider refused the sign-in. Open your link and try again.")
    except ConnectorError:
        return _problem("The provider could not be reached. Open your link and try again.", 502)
    coach_id = uuid.UUID(state["coach"])
    with h.db.session() as db:
        conn = db.exec(
            select(CalendarConnection).where(
                CalendarConnection.coach_id == coach_id,
                CalendarConnection.provider == provider,
                CalendarConnection.account_email == email,
            )
        ).first()
        conn = conn or CalendarConnection(coach_id=coach_id, provider=provider, account_email=email)
        conn.tokens_encrypted, conn.scopes = seal(h, tokens), list(tokens.scopes)
        conn.state, conn.last_error, conn.updated_at = "active", None, utcnow()
        db.add(conn)
        db.flush()
        connection_id = str(conn.id)
    h.enqueue(f"setup-calendar:{connection_id}", "jobs.calendars.setup_connection", connection_id)
    return redirect(url_for("connect.settings", provider=provider, linked=1))


@bp.get("/<provider>/settings")
def settings(provider: str) -> tuple[str, int]:
    """The linked account, its calendars, and sync health."""
    coach_id = _coach_in_session(provider)
    with hub().db.session() as db:
        conn = coach_connection(db, coach_id, provider)
        feeds = (
            list(db.exec(select(CalendarFeed).where(CalendarFeed.connection_id == conn.id)))
            if conn
            else []
        )
    return _page(
        "connect/settings.html",
        provider=provider,
        conn=conn,
        feeds=feeds,
        csrf=_csrf(),
        linked=request.args.get("linked"),
        saved=request.args.get("saved"),
    )


@bp.post("/<provider>/settings")
def save_settings(provider: str) -> Response:
    """Choose the destination calendar and the calendars that count as busy."""
    _check_csrf()
    coach_id = _coach_in_session(provider)
    h = hub()
    with h.db.session() as db:
        conn = coach_connection(db, coach_id, provider)
        if conn is None:
            abort(404)
        known = {c["id"] for c in conn.calendars}
        destination = request.form.get("destination", "")
        busy = [c for c in request.form.getlist("busy") if c in known]
        if destination in known:
            conn.destination_calendar = destination
        conn.busy_calendars = busy
        conn.updated_at = utcnow()
        db.add(conn)
        from jobs.calendars import ensure_feeds

        ensure_feeds(db, conn)
        connection_id = str(conn.id)
    h.enqueue(f"setup-calendar:{connection_id}", "jobs.calendars.setup_connection", connection_id)
    return redirect(url_for("connect.settings", provider=provider, saved=1))


@bp.post("/<provider>/unlink")
def unlink(provider: str) -> tuple[str, int]:
    """Unlink the account (the hub's events are removed unless the coach keeps them)."""
    _check_csrf()
    coach_id = _coach_in_session(provider)
    h = hub()
    with h.db.session() as db:
        conn = coach_connection(db, coach_id, provider)
        if conn is None:
            abort(404)
        connection_id = str(conn.id)
    keep = request.form.get("keep_events") == "1"
    h.enqueue(f"unlink-calendar:{connection_id}", "jobs.channels.unlink", connection_id, not keep)
    return _page(
        "connect/problem.html",
        message=f"{NAMES[provider]} is being unlinked. "
        + (
            "Your sessions stay in your calendar."
            if keep
            else "The sessions the hub added are being removed from it."
        ),
    )
