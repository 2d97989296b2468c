"""The control plane under /_sandbox: inspect state and logs, reset, inject and clear faults."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from connectors.sandbox.api import ApiError, Sandbox, current, json_body, json_response
from connectors.sandbox.calcom_payloads import api_booking
from connectors.sandbox.faults import FaultRule

PREFIX = "/_sandbox"
blueprint = Blueprint("control", __name__)


def render(err: ApiError) -> Response:
    """The hub's own error shape: `{"error": code, "message": text}`."""
    code = err.code or ("not_found" if err.status == 404 else "bad_request")
    return json_response({"error": code, "message": err.message}, err.status, err.headers)


def dump(sb: Sandbox) -> dict[str, Any]:
    """Everything the emulated providers hold."""
    state = sb.state
    with state.lock:
        return {
            "hub_url": state.hub_url,
            "daily": {
                "rooms": [r.to_json() for r in state.rooms.values()],
                "tokens": [t.to_json() for t in state.tokens],
                "meetings": [m.to_json() for m in state.meetings],
                "webhooks": [w.to_json() for w in state.daily_webhooks.values()],
            },
            "calcom": {"bookings": [api_booking(b) for b in state.bookings.values()]},
            "google": state.google.dump(),
            "outlook": state.outlook.dump(),
        }


@blueprint.get("/state")
def get_state() -> Response:
    """GET /_sandbox/state."""
    return json_response(dump(current()))


@blueprint.get("/requests")
def get_requests() -> Response:
    """GET /_sandbox/requests?provider=&method=&path= -> {count, writes, requests}."""
    args, state = request.args, current().state
    found = state.requests_matching(args.get("provider"), args.get("method"), args.get("path"))
    writes = [r for r in found if r.method not in ("GET", "HEAD", "OPTIONS")]
    return json_response(
        {"count": len(found), "writes": len(writes), "requests": [r.to_json() for r in found]}
    )


@blueprint.delete("/requests")
def clear_requests() -> Response:
    """DELETE /_sandbox/requests: start a fresh count."""
    state = current().state
    with state.lock:
        cleared = len(state.requests)
        state.requests.clear()
    return json_response({"cleared": cleared})


@blueprint.get("/outbox")
def get_outbox() -> Response:
    """GET /_sandbox/outbox?provider=&result= -> {count, deliveries}."""
    sb = current()
    sb.webhooks.flush()
    found = sb.state.deliveries(request.args.get("provider"), request.args.get("result"))
    return json_response({"count": len(found), "deliveries": [d.to_json() for d in found]})


@blueprint.delete("/outbox")
def clear_outbox() -> Response:
    """DELETE /_sandbox/outbox."""
    sb = current()
    sb.webhooks.flush()
    with sb.state.lock:
        cleared = len(sb.state.outbox)
        sb.state.outbox.clear()
    return json_response({"cleared": cleared})


@blueprint.post("/flush")
def flush() -> Response:
    """POST /_sandbox/flush: wait until background webhooks are sent."""
    current().webhooks.flush()
    return json_response({"flushed": True})


@blueprint.post("/reset")
def reset() -> Response:
    """POST /_sandbox/reset: forget state, logs, outbox and faults."""
    current().reset()
    return json_response({"reset": True})


@blueprint.post("/hub-url")
def set_hub_url() -> Response:
    """POST /_sandbox/hub-url {hub_url}: where webhooks go (moves the seeded Daily webhook)."""
    url = json_body().get("hub_url")
    if url is not None and not isinstance(url, str):
        raise ApiError(400, "hub_url must be a string or null")
    current().state.set_hub_url(url)
    return json_response({"hub_url": current().state.hub_url})


def _rule_json(rule: FaultRule) -> dict[str, Any]:
    return rule.to_json(current().faults.clock())


@blueprint.get("/faults")
def get_faults() -> Response:
    """GET /_sandbox/faults: the rules still active."""
    return json_response({"faults": [_rule_json(r) for r in current().faults.rules()]})


def _number(body: dict[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key} must be a number")
    return kind(value)


@blueprint.post("/faults")
def add_fault() -> Response:
    """POST /_sandbox/faults: `{provider, status, count}` or `{..., ratio, duration_s}`.

    Optional: method (`POST` or `POST,DELETE`), path (prefix below the provider's base URL),
    retry_after (seconds; 429 defaults to 1), ttl_s (count rules), seed (ratio rules),
    reason (the provider's error code, e.g. Google's `rateLimitExceeded`), body (JSON answered
    verbatim).
    """
    body = json_body()
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ApiError(400, "reason must be a string")
    shape = {"reason": reason, "body": body.get("body")}
    provider, status = body.get("provider"), _number(body, "status", int)
    if not isinstance(provider, str) or not provider or status is None:
        raise ApiError(400, "provider and status are required")
    method, path = body.get("method"), body.get("path")
    if not all(v is None or isinstance(v, str) for v in (method, path)):
        raise ApiError(400, "method and path must be strings")
    retry_after = _number(body, "retry_after", int)
    faults = current().faults
    try:
        if "ratio" in body:
            duration = _number(body, "duration_s", float) or 60.0
            seed = _number(body, "seed", int)
            ratio = _number(body, "ratio", float)
            if ratio is None:
                raise ApiError(400, "ratio must be a number between 0 and 1")
            rule = faults.fail_fraction(
                provider,
                status,
                ratio,
                duration,
                method=method,
                path=path,
                retry_after=retry_after,
                seed=seed,
                **shape,
            )
        else:
            count = _number(body, "count", int) or 1
            ttl = _number(body, "ttl_s", float)
            rule = faults.fail_next(
                provider,
                status,
                count,
                method=method,
                path=path,
                retry_after=retry_after,
                ttl=ttl,
                **shape,
            )
    except ValueError as err:
        raise ApiError(400, str(err)) from err
    return json_response(_rule_json(rule), 201)


@blueprint.delete("/faults")
def clear_faults() -> Response:
    """DELETE /_sandbox/faults: every rule."""
    current().faults.clear()
    return json_response({"cleared": True})


@blueprint.delete("/faults/<int:rule_id>")
def remove_fault(rule_id: int) -> Response:
    """DELETE /_sandbox/faults/{id}."""
    if not current().faults.remove(rule_id):
        raise ApiError(404, f"no active fault {rule_id}")
    return json_response({"removed": rule_id})


@blueprint.post("/chaos")
def start_chaos() -> Response:
    """POST /_sandbox/chaos `{error_rate, seconds, statuses?, retry_after?, seed?, delay_s?,
    delay_rate?, provider?, method?, path?}`: every matching provider call, for `seconds`."""
    try:
        started = current().chaos.start(json_body())
    except ValueError as err:
        raise ApiError(400, str(err)) from err
    return json_response(started, 201)


@blueprint.get("/chaos")
def get_chaos() -> Response:
    """GET /_sandbox/chaos: the current (or last) chaos period and its counters."""
    return json_response({"chaos": current().chaos.status()})


@blueprint.delete("/chaos")
def stop_chaos() -> Response:
    """DELETE /_sandbox/chaos: end chaos now (its counters stay readable)."""
    return json_response({"chaos": current().chaos.stop()})
