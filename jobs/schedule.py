"""The periodic tick: enqueue each sweep once per period, across all processes."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from app.hub import Hub
from app.queue import RedisQueue
from jobs.sweeps import schedule

log = logging.getLogger(__name__)


class Ticker:
    """Enqueues due sweeps; with Redis a `SET NX EX` claim makes each period run once."""

    def __init__(self, hub: Hub, sweeps: dict[str, int] | None = None) -> None:
        self.hub = hub
        self.sweeps = dict(schedule(hub.settings) if sweeps is None else sweeps)
        self._last: dict[str, float] = {}

    def tick(self) -> list[str]:
        """Enqueue the sweeps that are due now; returns their names."""
        queued: list[str] = []
        for name, period in self.sweeps.items():
            if self._claim(name, period):
                self.hub.enqueue(f"sweep:{name}", name)
                queued.append(name)
        return queued

    def _claim(self, name: str, period: int) -> bool:
        queue = self.hub.queue
        if isinstance(queue, RedisQueue):
            try:
                return bool(queue.redis.set(queue.key("tick", name), "1", nx=True, ex=period))
            except Exception:  # noqa: BLE001 - Redis down: nothing to enqueue into anyway
                return False
        now = time.monotonic()
        if now - self._last.get(name, -1e9) >= period:
            self._last[name] = now
            return True
        return False


def start_thread(app: Flask, hub: Hub, every: float = 5.0) -> threading.Event:
    """Tick in a daemon thread until the returned event is set."""
    stop = threading.Event()
    ticker = Ticker(hub)

    def loop() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    ticker.tick()
                except Exception:  # noqa: BLE001 - the ticker must survive anything
                    log.exception("scheduler tick failed")
                stop.wait(every)

    threading.Thread(target=loop, name="sessionhub-ticker", daemon=True).start()
    return stop
