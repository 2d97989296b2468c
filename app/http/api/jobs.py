"""The dead-letter list: jobs that exhausted their retries, and a way to run them again."""

from __future__ import annotations

from flask import Response, jsonify

from app.db import iso
from app.errors import NotFound, Unavailable
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.hub import hub
from app.queue import FailedJob


def _job_json(job: FailedJob) -> dict[str, object]:
    return {
        "id": job.id,
        "key": job.key,
        "function": job.func,
        "args": list(job.args),
        "error": job.error,
        "traceback": job.traceback,
        "failed_at": iso(job.failed_at),
    }


@bp.get("/jobs/failed")
@contract({200: schemas.FailedJobPage}, tag="jobs")
def failed_jobs() -> Response:
    """Failed jobs, newest first."""
    try:
        jobs = hub().queue.failed()
    except Exception as err:  # noqa: BLE001 - a dead queue is a 503, whatever the cause
        raise Unavailable("the job queue is unavailable, retry later") from err
    return jsonify({"items": [_job_json(j) for j in jobs], "next": None})


@bp.post("/jobs/<job_id>/retry")
@contract({202: schemas.Queued}, errors=(404,), tag="jobs")
def retry_job(job_id: str) -> tuple[Response, int]:
    """Put a failed job back in the queue."""
    try:
        found = hub().queue.retry_failed(job_id)
    except Exception as err:  # noqa: BLE001
        raise Unavailable("the job queue is unavailable, retry later") from err
    if not found:
        raise NotFound("no failed job with that id", field="job_id")
    return jsonify({"id": job_id, "status": "queued"}), 202
