"""SessionHub: the Flask app factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

import connectors
import jobs
from app import config as config_module
from app.crypto import Crypto
from app.db import Database
from app.http.security import CookieSessions
from app.hub import Hub
from app.logs import configure as configure_logging
from app.queue import InProcessQueue, JobQueue, RedisQueue

log = logging.getLogger(__name__)


def create_app(settings: config_module.Settings | None = None, **options: Any) -> Flask:
    """Build the hub: settings from the environment unless given."""
    if settings is None:
        settings = config_module.load(slugs=tuple(connectors.REGISTRY))
    configure_logging(settings.log_format)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.embedded,  # embedded = the http://127.0.0.1 trial
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = CookieSessions()
    app.url_map.strict_slashes = False

    queue: JobQueue
    if settings.embedded:
        from jobs.runner import run_in_thread

        queue = InProcessQueue(
            run_in_thread, settings.job_retry_intervals, start=options.get("start_worker", True)
        )
    else:
        assert settings.redis_url is not None  # noqa: S101 - embedded is "no redis_url"
        queue = RedisQueue(settings.redis_url, settings.job_retry_intervals, settings.queue_name)
    hub = Hub(
        settings=settings,
        db=Database(settings.database_url),
        queue=queue,
        crypto=Crypto(settings.encryption_keys),
    )
    app.extensions["sessionhub"] = hub

    from app.http import register_blueprints

    register_blueprints(app)
    jobs.bind(app)
    _log_startup(settings)
    return app


def _log_startup(settings: config_module.Settings) -> None:
    if settings.testing:
        return
    if settings.embedded:
        log.warning(
            "embedded mode — single process, not for production "
            "(SQLite unless DATABASE_URL is set, in-process queue)"
        )
    for slug, connector in sorted(connectors.REGISTRY.items()):
        needs_secret = getattr(connector, "needs_secret", True)
        if needs_secret and not settings.webhook_secrets.get(slug):
            log.info(
                "webhooks from %s are disabled: SESSIONHUB_%s_WEBHOOK_SECRET is not set",
                slug,
                slug.upper(),
            )
