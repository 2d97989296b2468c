"""Daily webhook subscriptions: `/webhooks` CRUD, the creation-time probe, re-activation."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from flask import Blueprint, Response

from connectors.sandbox.api import ApiError, current, json_body, json_response
from connectors.sandbox.models import DailyWebhook

blueprint = Blueprint("webhooks", __name__)


def _hook(uuid: str) -> DailyWebhook:
    with current().state.lock:
        hook = current().state.daily_webhooks.get(uuid)
    if hook is None:
        raise ApiError(404, f"webhook {uuid} was not found")
    return hook


def _hmac(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(400, "hmac must be a non-empty BASE-64 encoded string")
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiError(400, "hmac must be BASE-64 encoded") from err
    return value


def _verify(url: Any, secret: str | None) -> str:
    """Daily creates a webhook only if the URL answers its signed test POST with 200."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url must be an http(s) URL")
    status = current().webhooks.probe(url, secret)
    if status != 200:
        raise ApiError(400, f"non-200 status code returned from webhook endpoint, recvd {status}")
    return url


def _event_types(value: Any, default: list[str]) -> list[str]:
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, "eventTypes must be a list of event names")
    return list(value)


@blueprint.get("/webhooks")
def list_webhooks() -> Response:
    """GET /webhooks: a JSON array."""
    with current().state.lock:
        return json_response([w.to_json() for w in current().state.daily_webhooks.values()])


@blueprint.post("/webhooks")
def create_webhook() -> Response:
    """POST /webhooks {url, hmac?, eventTypes, retryType?, basicAuth?} after a test POST."""
    body = json_body()
    state = current().state
    fresh = base64.b64encode(secrets.token_bytes(32)).decode()
    secret = _hmac(body["hmac"]) if "hmac" in body else fresh
    url = _verify(body.get("url"), secret)
    hook = state.add_daily_webhook(url, secret, _event_types(body.get("eventTypes"), []))
    with state.lock:
        hook.retry_type = str(body.get("retryType") or "circuit-breaker")
        hook.basic_auth = body.get("basicAuth")
        return json_response(hook.to_json())


@blueprint.get("/webhooks/<uuid>")
def get_webhook(uuid: str) -> Response:
    """GET /webhooks/{uuid}."""
    return json_response(_hook(uuid).to_json())


@blueprint.post("/webhooks/<uuid>")
def update_webhook(uuid: str) -> Response:
    """POST /webhooks/{uuid}: update, and re-activate a FAILED webhook (failedCount 0)."""
    body = json_body()
    hook = _hook(uuid)
    secret = _hmac(body["hmac"]) if "hmac" in body else hook.hmac
    url = _verify(body["url"], secret) if body.get("url", hook.url) != hook.url else hook.url
    event_types = _event_types(body.get("eventTypes"), hook.event_types)
    with current().state.lock:
        hook.url, hook.hmac, hook.event_types = url, secret, event_types
        hook.retry_type = str(body.get("retryType") or hook.retry_type)
        hook.state, hook.failed_count = "ACTIVE", 0
        hook.updated_at = current().state.now()
        return json_response(hook.to_json())


@blueprint.delete("/webhooks/<uuid>")
def delete_webhook(uuid: str) -> Response:
    """DELETE /webhooks/{uuid}."""
    hook = _hook(uuid)
    with current().state.lock:
        current().state.daily_webhooks.pop(uuid, None)
    return json_response(hook.to_json())
