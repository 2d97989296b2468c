"""Rate limits: per provider on /webhooks/* (app/http/budget.py: a shared counter that costs
no round trip per delivery), per API key on /api/* (flask-limiter).

The counters live in Redis under the hub's own namespace (`<queue_name>:ratelimit:…`, so several
hubs share one Redis), in memory in embedded mode. Limits fail open: when Redis does not answer
the limiter counts in process memory instead and probes Redis again with a back-off, so provider
deliveries keep being accepted (the inbox has its own Redis-down path). Over a limit the answer
is 429 `{"error": "rate_limited"}` with `Retry-After`.

Keys: the provider slug for webhooks; a hash of the presented API key for /api (the raw key is
never a Redis key, nor logged), or the client address when no key is presented. Failed API
authentications also count per client address, so guessing keys is limited too.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, Response, current_app, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import connectors
from app.config import Settings
from app.http.budget import WebhookBudget

_BUDGET = "sessionhub_webhook_budget"
#: a dead Redis must not hold a request up: the limiter gives up quickly and counts in memory
_REDIS_TIMEOUT_SECONDS = 0.5


def _address() -> str:
    return request.remote_addr or "unknown"


def _provider() -> str:
    slug = str((request.view_args or {}).get("slug", ""))
    # unknown slugs share one bucket: a scanner cannot create Redis keys at will
    return slug if slug in connectors.REGISTRY else "-unknown-"


def api_client_key() -> str:
    """The /api rate-limit key: a hash of the presented Bearer key, else the client address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        # domain-separated, so the Redis key is not the key_hash stored in the database
        digest = hashlib.sha256(b"sessionhub-rate-limit\0" + token.encode()).hexdigest()
        return f"key:{digest[:32]}"
    return f"addr:{_address()}"


def _auth_failed(response: Response) -> bool:
    return response.status_code == 401


def install(app: Flask, settings: Settings) -> Limiter:
    """Attach the limiter and its limits to the app's webhook and API blueprints."""
    from app.http import api

    if settings.embedded:
        storage_uri, options = "memory://", {}
    else:
        assert settings.redis_url is not None  # noqa: S101 - not embedded means a Redis URL
        storage_uri = settings.redis_url
        options = {
            "key_prefix": f"{settings.queue_name}:ratelimit",
            "socket_timeout": _REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": _REDIS_TIMEOUT_SECONDS,
        }
    limiter = Limiter(
        _address,
        app=app,
        storage_uri=storage_uri,
        storage_options=options,  # type: ignore[arg-type]
        strategy="fixed-window",  # one INCR+EXPIRE script call per limited request
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,  # the window is read only on a breach (Retry-After)
    )
    # every other route skips the limiter's bookkeeping at once (probes, pages, feeds, metrics);
    # webhooks are counted by their own view with a cheaper shared counter (app/http/budget.py)
    limited = frozenset((api.bp.name,))
    limiter.request_filter(lambda: request.blueprint not in limited)
    app.extensions[_BUDGET] = WebhookBudget(
        settings.rate_limit_webhooks,
        None
        if settings.embedded
        else Redis.from_url(
            settings.redis_url or "",
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # fail at once: the budget counts in memory then
        ),
        f"{settings.queue_name}:ratelimit:webhooks",
    )
    limiter.shared_limit(settings.rate_limit_api, scope="api", key_func=api_client_key)(api.bp)
    limiter.shared_limit(
        settings.rate_limit_api,
        scope="api-auth-failures",
        key_func=_address,
        deduct_when=_auth_failed,
    )(api.bp)

    def too_many(err: RateLimitExceeded) -> tuple[Response, int, dict[str, str]]:
        return _too_many(str(err.description), _retry_after(limiter, err))

    app.register_error_handler(RateLimitExceeded, too_many)
    app.extensions["sessionhub_limiter"] = limiter
    return limiter


def webhook_limited() -> tuple[Response, int, dict[str, str]] | None:
    """Count this delivery against its provider's limit; the 429 answer when over it."""
    budget: WebhookBudget = current_app.extensions[_BUDGET]
    verdict = budget.hit(_provider())
    if verdict.allowed:
        return None
    return _too_many(str(verdict.limit), verdict.retry_after)


def _too_many(description: str, retry_after: int) -> tuple[Response, int, dict[str, str]]:
    body = {
        "error": "rate_limited",
        "message": f"rate limit exceeded ({description}); retry in {retry_after} s",
    }
    return jsonify(body), 429, {"Retry-After": str(retry_after)}


def _retry_after(limiter: Limiter, err: RateLimitExceeded) -> int:
    """Seconds until the breached window resets (the whole window if the store cannot say)."""
    window = max(1, int(err.limit.limit.get_expiry()))
    breached = limiter.current_limit
    try:
        if breached is not None:  # reset_at is rounded up by one second: keep within the window
            return min(window, max(1, math.ceil(breached.reset_at - time.time())))
    except Exception:  # noqa: BLE001, S110 - storage gone mid-request: the window length will do
        pass
    return window
