"""`POST /v1.0/$batch`: Graph's JSON batch, each request replayed through the sandbox app.

At most 20 requests (else 400). Requests run one after another in the order given (so
`dependsOn` always sees its dependencies done); a request whose dependency failed gets 424.
Replayed calls inherit the batch's Authorization, meet faults, throttling, auth and the request
log (batch=True) like separate calls, so a 429 shows up inside the responses with Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request

from connectors.sandbox.api import json_body, json_response
from connectors.sandbox.outlook_http import BATCH_ENVIRON, GRAPH, PREFIX
from connectors.sandbox.outlook_models import OutlookError

MAX_REQUESTS = 20
_KEPT = ("Content-Type", "ETag", "Retry-After", "Location", "Preference-Applied")
blueprint = Blueprint("outlook_batch", __name__)


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status, "body": {"error": {"code": code, "message": message}}}


def _replay(entry: dict[str, Any], authorization: str | None) -> dict[str, Any]:
    method, url = str(entry.get("method") or "").upper(), entry.get("url")
    if method not in ("GET", "POST", "PATCH", "PUT", "DELETE") or not isinstance(url, str):
        return _error(400, "BadRequest", "Each request needs a method and a relative url")
    path = "/" + url.lstrip("/")
    if path.startswith(GRAPH + "/"):
        path = path[len(GRAPH) :]
    if path.split("?")[0].lower() == "/$batch":
        return _error(400, "BadRequest", "Batches do not nest")
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    if authorization:
        headers.setdefault("Authorization", authorization)
    body = entry.get("body")
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    with current_app.app_context():
        response = current_app.test_client().open(
            PREFIX + GRAPH + path,
            method=method,
            headers=headers,
            data=data,
            environ_overrides={BATCH_ENVIRON: True},
        )
        try:
            raw = response.get_data()
            kept = {k: response.headers[k] for k in _KEPT if k in response.headers}
            answer: dict[str, Any] = {"status": response.status_code, "headers": kept}
            if raw:
                try:
                    answer["body"] = json.loads(raw)
                except ValueError:
                    answer["body"] = raw.decode("utf-8", "replace")
            return answer
        finally:
            response.close()


@blueprint.post("/$batch")
def batch() -> Response:
    entries = json_body().get("requests")
    if not isinstance(entries, list) or not entries:
        raise OutlookError(400, "BadRequest", "requests must be a non-empty array")
    if len(entries) > MAX_REQUESTS:
        raise OutlookError(
            400,
            "BadRequest",
            f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.",
        )
    ids = [e.get("id") if isinstance(e, dict) else None for e in entries]
    if any(not isinstance(i, str) or not i for i in ids) or len(set(ids)) != len(ids):
        raise OutlookError(400, "BadRequest", "every request needs a unique string id")
    authorization = request.headers.get("Authorization")
    done: dict[str, int] = {}
    responses = []
    for entry in entries:
        needs = entry.get("dependsOn") or []
        if any(n not in done for n in needs):
            raise OutlookError(400, "BadRequest", "dependsOn must name earlier requests")
        if any(not 200 <= done[n] < 300 for n in needs):
            answer = _error(424, "FailedDependency", "A dependency failed.")
        else:
            answer = _replay(entry, authorization)
        done[entry["id"]] = answer["status"]
        responses.append({"id": entry["id"], **answer})
    return json_response({"responses": responses})
