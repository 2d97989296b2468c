"""The dashboard's repairs (POST, CSRF-checked): replay, retry, reconcile."""

from __future__ import annotations

import logging
import uuid

from flask import abort, flash, g, redirect, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from app.errors import Unavailable
from app.http.dashboard import bp
from app.hub import hub
from app.metrics import job_name
from app.models import ProviderLink, Session, WebhookDelivery

log = logging.getLogger(__name__)


def _who() -> str:
    key = g.get("ops_key")
    return key.name if key is not None else "?"


@bp.post("/deliveries/<int:delivery_id>/replay")
def replay(delivery_id: int) -> Response:
    """Run ingestion of a stored delivery again (idempotent)."""
    with hub().db.session() as db:
        if db.get(WebhookDelivery, delivery_id) is None:
            abort(404, f"there is no delivery {delivery_id}")
    try:
        hub().queue.enqueue(
            f"replay:{delivery_id}", "jobs.ingest.ingest_delivery", delivery_id, True
        )
    except Exception as err:  # noqa: BLE001 - any queue failure is "retry later"
        raise Unavailable("the job queue is unavailable, retry later") from err
    log.info("dashboard replay", extra={"delivery_id": delivery_id, "by": _who()})
    flash(f"Delivery {delivery_id} queued for replay.")
    return redirect(url_for("dashboard.delivery", delivery_id=delivery_id))


@bp.post("/jobs/<path:job_id>/retry")
def retry_job(job_id: str) -> Response:
    """Put one failed job back in the queue."""
    try:
        found = hub().queue.retry_failed(job_id)
    except Exception as err:  # noqa: BLE001
        raise Unavailable("the job queue is unavailable, retry later") from err
    if not found:
        abort(404, "that job is no longer in the failed list (retried already?)")
    log.info("dashboard job retry", extra={"job": job_id, "by": _who()})
    flash(f"Job {job_id} queued again.")
    return redirect(url_for("dashboard.jobs"))


@bp.post("/jobs/retry-kind")
def retry_kind() -> Response:
    """Put every failed job of one kind (`ingest`, `reconcile`, …) back in the queue."""
    kind = request.form.get("kind", "").strip()
    if not kind:
        abort(400, "which kind of job? (the form's kind field is empty)")
    q = hub().queue
    try:
        ids = [j.id for j in q.failed() if job_name(j.key) == kind]
        retried = sum(1 for i in ids if q.retry_failed(i))
    except Exception as err:  # noqa: BLE001
        raise Unavailable("the job queue is unavailable, retry later") from err
    log.info("dashboard retry of a kind", extra={"kind": kind, "count": retried, "by": _who()})
    flash(f"{retried} failed {kind} job{'s' if retried != 1 else ''} queued again.")
    return redirect(url_for("dashboard.jobs"))


@bp.post("/sessions/<session_id>/reconcile")
def reconcile(session_id: str) -> Response:
    """Queue reconciliation of every provider the hub writes this session to."""
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        abort(404, "that is not a session id")
    h = hub()
    with h.db.session() as db:
        if db.get(Session, sid) is None:
            abort(404, f"there is no session {sid}")
        providers = sorted(
            {
                p
                for p in db.exec(
                    select(ProviderLink.provider).where(
                        ProviderLink.session_id == sid, ProviderLink.active
                    )
                )
                if p in h.writable
            }
        )
    if providers:
        try:
            fresh = [
                p
                for p in providers
                if h.queue.enqueue(f"reconcile:{p}:{sid}", "jobs.reconcile.reconcile", str(sid), p)
            ]
        except Exception as err:  # noqa: BLE001 - any queue failure is "retry later"
            raise Unavailable("the job queue is unavailable, retry later") from err
        waiting = [p for p in providers if p not in fresh]
        flash(
            f"Reconciliation queued for {', '.join(providers)}."
            + (f" ({', '.join(waiting)} was already waiting in the queue.)" if waiting else "")
        )
    else:
        flash("Nothing to reconcile: no active link to a provider the hub writes to.")
    log.info("dashboard reconcile", extra={"session_id": str(sid), "by": _who()})
    return redirect(url_for("dashboard.session_page", session_id=sid))
