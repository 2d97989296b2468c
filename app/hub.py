"""The hub's shared parts, attached to the Flask app and reachable from jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

from flask import current_app

from app.config import Settings
from app.crypto import Crypto
from app.db import Database
from app.queue import JobQueue
from connectors import REGISTRY
from connectors.base import Outbound

log = logging.getLogger(__name__)


@dataclass
class Hub:
    """Settings, database, queue and crypto of one running hub."""

    settings: Settings
    db: Database
    queue: JobQueue
    crypto: Crypto
    _writers: dict[str, Outbound | None] = field(default_factory=dict, repr=False)

    @cached_property
    def writable(self) -> frozenset[str]:
        """Providers the hub writes to with its own credentials (API keys configured)."""
        return frozenset(slug for slug in REGISTRY if self.outbound(slug) is not None)

    def outbound(self, provider: str) -> Outbound | None:
        """The writer for a provider (one per process), or None when it is not configured."""
        if provider not in self._writers:
            connector = REGISTRY.get(provider)
            self._writers[provider] = (
                connector.outbound(
                    self.settings.api_url(provider), self.settings.api_keys.get(provider)
                )
                if connector
                else None
            )
        return self._writers[provider]

    def enqueue(self, key: str, func: str, *args: object, delay: float = 0) -> bool:
        """Enqueue, logging (not raising) when the queue is down: the sweeps re-enqueue."""
        try:
            return self.queue.enqueue(key, func, *args, delay=delay)
        except Exception:  # noqa: BLE001 - a dead queue must not fail the caller
            log.warning(
                "queue unavailable, job left for the sweep", extra={"job": key}, exc_info=True
            )
            return False

    def enqueue_many(self, jobs: list[tuple[str, str, tuple[object, ...]]]) -> int:
        """Enqueue several jobs in one round trip; logs (not raises) when the queue is down."""
        if not jobs:
            return 0
        try:
            return self.queue.enqueue_many(jobs)
        except Exception:  # noqa: BLE001 - a dead queue must not fail the caller
            log.warning(
                "queue unavailable, jobs left for the sweep",
                extra={"job": jobs[0][0], "count": len(jobs)},
                exc_info=True,
            )
            return 0


def hub() -> Hub:
    """The hub of the current app."""
    found: Hub = current_app.extensions["sessionhub"]
    return found
