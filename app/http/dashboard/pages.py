"""The dashboard's pages (GET): overview, connections, deliveries, failed jobs, sessions."""

from __future__ import annotations

import json
import uuid
from datetime import date

from flask import abort, render_template, request
from markupsafe import Markup

from app import ops
from app.db import utcnow
from app.http.dashboard import bp
from app.hub import hub
from app.masking import mask_body, mask_headers
from app.metrics import job_name
from app.models import DELIVERY_STATES, WebhookDelivery


def _json_block(data: object) -> Markup:
    """JSON safe to place inside a `<script type="application/json">` data block."""
    text = json.dumps(data, separators=(",", ":"))
    return Markup(  # noqa: S704 - escaped below: no `<`, `>` or `&` survives
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


@bp.get("")
def overview() -> str:
    """Providers, queue, sessions needing attention and the 24-hour charts."""
    h = hub()
    now = utcnow()
    with h.db.session() as db:
        providers = ops.provider_stats(db, now)
        health = ops.session_health(db, now)
        conn_counts = ops.connection_counts(db)
        daily = ops.daily_webhook(db, watched=bool(h.settings.api_keys.get("daily")))
        charts = {
            "deliveries": ops.delivery_series(db, now),
            "latency": ops.latency_series(db, now),
        }
    queue = ops.queue_stats(h.queue, "in-process" if h.settings.embedded else "redis")
    return render_template(
        "dashboard/overview.html",
        providers=providers,
        queue=queue,
        health=health,
        conn_counts=conn_counts,
        daily=daily,
        charts=_json_block(charts),
        now=now,
    )


@bp.get("/connections")
def connections() -> str:
    """Every linked calendar and the Daily webhook."""
    h = hub()
    with h.db.session() as db:
        rows = ops.connections(db)
        daily = ops.daily_webhook(db, watched=bool(h.settings.api_keys.get("daily")))
    return render_template("dashboard/connections.html", rows=rows, daily=daily)


def _filter() -> ops.DeliveryFilter:
    args = request.args
    state = args.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        abort(400, f"state must be one of {', '.join(DELIVERY_STATES)}")
    day = None
    if args.get("date"):
        try:
            day = date.fromisoformat(args["date"])
        except ValueError:
            abort(400, "date must look like 2026-11-21")
    session_id = None
    if args.get("session"):
        try:
            session_id = uuid.UUID(args["session"])
        except ValueError:
            abort(400, "session must be a session id")
    before = None
    if args.get("before"):
        if not args["before"].isdigit() or len(args["before"]) > 18:
            abort(400, "before must be a delivery id")
        before = int(args["before"])
    return ops.DeliveryFilter(
        provider=(args.get("provider") or "").strip()[:32] or None,
        state=state,
        event_type=(args.get("type") or "").strip()[:128] or None,
        day=day,
        session_id=session_id,
        before=before,
    )


@bp.get("/deliveries")
def deliveries() -> str:
    """Searchable inbox, newest first."""
    where = _filter()
    with hub().db.session() as db:
        rows, cursor = ops.search_deliveries(db, where)
        types = ops.event_types(db)
    next_args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "dashboard/deliveries.html",
        rows=rows,
        cursor=cursor,
        next_args=next_args,
        where=where,
        providers=ops.inbox_providers(),
        states=DELIVERY_STATES,
        types=types,
    )


@bp.get("/deliveries/<int:delivery_id>")
def delivery(delivery_id: int) -> str:
    """One delivery: masked headers and body, its session, and Replay."""
    with hub().db.session() as db:
        row = db.get(WebhookDelivery, delivery_id)
        if row is None:
            abort(404, f"there is no delivery {delivery_id}")
    headers = mask_headers(row.headers or {})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return render_template(
        "dashboard/delivery.html",
        d=row,
        headers=headers,
        body=mask_body(row.body or b"", content_type),
        size=len(row.body or b""),
    )


@bp.get("/jobs")
def jobs() -> str:
    """The dead-letter list, grouped by kind."""
    h = hub()
    stats = ops.queue_stats(h.queue, "in-process" if h.settings.embedded else "redis")
    kind = request.args.get("kind") or None
    shown = [j for j in stats.failed_jobs if kind is None or job_name(j.key) == kind]
    return render_template(
        "dashboard/jobs.html", queue=stats, jobs=shown, kind=kind, job_name=job_name
    )


@bp.get("/sessions")
def sessions() -> str:
    """Find a session by id, provider id (Cal.com uid, room, event id) or e-mail."""
    q = (request.args.get("q") or "").strip()[:320]
    with hub().db.session() as db:
        found = ops.find_sessions(db, q) if q else []
        health = ops.session_health(db) if not q else None
    return render_template("dashboard/sessions.html", q=q, found=found, health=health)


@bp.get("/sessions/<session_id>")
def session_page(session_id: str) -> str:
    """One session: canonical state, every provider link, the full timeline."""
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        abort(404, "that is not a session id")
    with hub().db.session() as db:
        detail = ops.session_detail(db, sid)
    if detail is None:
        abort(404, f"there is no session {sid}")
    return render_template("dashboard/session.html", writable=sorted(hub().writable), **detail)
