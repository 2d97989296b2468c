"""The chaos switch: for a while, every provider API call may fail (a seeded mix of statuses)
or be answered late after the provider acted. The control plane itself is never affected.

`POST /_sandbox/chaos {"error_rate": 0.5, "statuses": [500, 502, 503, 429], "retry_after": 1,
"seconds": 60, "seed": 7}`; optional `delay_s` (the answer of a call that was not failed is held
back this long, after the provider acted — a lost or late answer), `delay_rate` (the share of
those calls delayed, default 1), and filters `provider`, `method` (`POST` or `POST,DELETE`),
`path` (prefix below the provider's base URL). `GET /_sandbox/chaos` shows it with its
counters (kept after it ends), `DELETE /_sandbox/chaos` ends it now.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: what a chaos switch answers when the request names no statuses
DEFAULT_STATUSES = (500, 502, 503, 429)
#: statuses whose answers carry Retry-After
THROTTLE_STATUSES = frozenset({429, 503})
MAX_SECONDS = 3600.0
MAX_DELAY = 30.0


@dataclass(frozen=True)
class Outcome:
    """What chaos does to one call: a failure status (None: let it through) and a delay."""

    status: int | None
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class Chaos:
    """One chaos period and what it did."""

    error_rate: float
    statuses: tuple[int, ...]
    until: float
    seconds: float
    retry_after: int | None = 1
    seed: int | None = None
    delay_s: float = 0.0
    delay_rate: float = 1.0
    provider: str | None = None
    method: str | None = None
    path: str | None = None
    calls: int = 0
    failed: Counter[int] = field(default_factory=Counter)
    delayed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, provider: str, method: str, path: str) -> bool:
        if self.provider not in (None, "*", provider):
            return False
        if self.method and method.upper() not in self.method.upper().split(","):
            return False
        return self.path is None or path.startswith(self.path)

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "active": now < self.until,
            "error_rate": self.error_rate,
            "statuses": list(self.statuses),
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "seconds_left": round(max(0.0, self.until - now), 3),
            "seed": self.seed,
            "delay_s": self.delay_s,
            "delay_rate": self.delay_rate,
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "calls": self.calls,
            "failed": sum(self.failed.values()),
            "failed_by_status": {str(k): v for k, v in sorted(self.failed.items())},
            "delayed": self.delayed,
        }


def _number(body: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return float(value)


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{key} must be a non-empty string")
    return value


def parse(body: Mapping[str, Any], now: float) -> Chaos:
    """A Chaos from the control plane's JSON; ValueError names the bad field."""
    error_rate = _number(body, "error_rate", None)
    if error_rate is None or not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be a number between 0 and 1")
    seconds = _number(body, "seconds", None)
    if seconds is None or not 0.0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be a number above 0 and at most {MAX_SECONDS:g}")
    raw_statuses = body.get("statuses", list(DEFAULT_STATUSES))
    if (
        not isinstance(raw_statuses, list)
        or not raw_statuses
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in raw_statuses
        )
    ):
        raise ValueError("statuses must be a non-empty list of 4xx/5xx status codes")
    retry_after = _number(body, "retry_after", 1)
    if retry_after is not None and not 0 <= retry_after <= MAX_SECONDS:
        raise ValueError("retry_after must be between 0 and 3600 seconds (or null)")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    delay_s = _number(body, "delay_s", 0.0) or 0.0
    if not 0.0 <= delay_s <= MAX_DELAY:
        raise ValueError(f"delay_s must be between 0 and {MAX_DELAY:g}")
    delay_rate = _number(body, "delay_rate", 1.0)
    if delay_rate is None or not 0.0 <= delay_rate <= 1.0:
        raise ValueError("delay_rate must be a number between 0 and 1")
    return Chaos(
        error_rate=error_rate,
        statuses=tuple(raw_statuses),
        until=now + seconds,
        seconds=seconds,
        retry_after=None if retry_after is None else int(retry_after),
        seed=seed,
        delay_s=delay_s,
        delay_rate=delay_rate,
        provider=_text(body, "provider"),
        method=_text(body, "method"),
        path=_text(body, "path"),
        rng=random.Random(seed),  # noqa: S311 - reproducible chaos, not security
    )


class ChaosSwitch:
    """At most one chaos period at a time; thread-safe; the last one is kept for its counters."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._chaos: Chaos | None = None

    def start(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Begin (or replace) the chaos period; ValueError on a bad body."""
        with self._lock:
            now = self.clock()
            self._chaos = parse(body, now)
            return self._chaos.to_json(now)

    def stop(self) -> dict[str, Any] | None:
        """End it now (its counters stay readable)."""
        with self._lock:
            now = self.clock()
            if self._chaos is not None and self._chaos.until > now:
                self._chaos.until = now
            return None if self._chaos is None else self._chaos.to_json(now)

    def clear(self) -> None:
        """Forget it entirely (reset)."""
        with self._lock:
            self._chaos = None

    def status(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._chaos is None else self._chaos.to_json(self.clock())

    def check(self, provider: str, method: str, path: str) -> Outcome | None:
        """What chaos does to this call (None: chaos is off or the call is not covered)."""
        with self._lock:
            chaos = self._chaos
            if chaos is None or self.clock() >= chaos.until:
                return None
            if not chaos.matches(provider, method, path):
                return None
            chaos.calls += 1
            if chaos.rng.random() < chaos.error_rate:
                status = chaos.rng.choice(chaos.statuses)
                chaos.failed[status] += 1
                after = chaos.retry_after if status in THROTTLE_STATUSES else None
                return Outcome(status, after)
            if chaos.delay_s > 0 and chaos.rng.random() < chaos.delay_rate:
                chaos.delayed += 1
                return Outcome(None, delay=chaos.delay_s)
            return None
