"""Fault injection: make matching provider calls fail on demand, then heal by themselves."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Retry-After sent with a 429 when the rule names none
DEFAULT_RETRY_AFTER = 1


@dataclass
class FaultRule:
    """Fail matching calls: the next `count` ones, or a `ratio` of them until `until`."""

    id: int
    provider: str  # a slug, or "*" for every provider
    status: int
    method: str | None = None
    path: str | None = None  # prefix of the path below the provider's base URL (or the full path)
    count: int | None = None
    ratio: float | None = None
    until: float | None = None  # clock() deadline; None = until the count is used up
    retry_after: int | None = None
    seed: int | None = None
    hits: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    reason: str | None = None  # the provider's error code/reason (Google: `rateLimitExceeded`)
    body: Any = None  # a JSON body answered verbatim instead of the provider's error shape

    def matches(self, provider: str, method: str, path: str, full_path: str) -> bool:
        """Whether a call falls under this rule (not whether it fails)."""
        if self.provider not in ("*", provider):
            return False
        if self.method and method.upper() not in self.method.upper().split(","):
            return False
        return self.path is None or path.startswith(self.path) or full_path.startswith(self.path)

    def expired(self, now: float) -> bool:
        """Used up or past its deadline."""
        return (self.count is not None and self.count <= 0) or (
            self.until is not None and now >= self.until
        )

    def to_json(self, now: float) -> dict[str, Any]:
        """The rule for the control plane."""
        left = None if self.until is None else round(max(0.0, self.until - now), 3)
        return {
            "id": self.id,
            "provider": self.provider,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "remaining": self.count,
            "ratio": self.ratio,
            "seconds_left": left,
            "retry_after": self.retry_after,
            "seed": self.seed,
            "hits": self.hits,
            "reason": self.reason,
            "body": self.body,
        }


@dataclass(frozen=True)
class Fault:
    """The failure one call gets."""

    rule_id: int
    status: int
    retry_after: int | None
    reason: str | None = None
    body: Any = None


class FaultInjector:
    """Thread-safe fault rules, checked in the order they were added."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1

    def _add(self, rule: FaultRule) -> FaultRule:
        if not 400 <= rule.status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        if rule.retry_after is None and rule.status == 429:
            rule.retry_after = DEFAULT_RETRY_AFTER
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def fail_next(
        self,
        provider: str,
        status: int,
        count: int = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        retry_after: int | None = None,
        ttl: float | None = None,
        reason: str | None = None,
        body: Any = None,
    ) -> FaultRule:
        """The next `count` matching calls answer `status` (the rule lapses after `ttl` s)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        until = None if ttl is None else self.clock() + ttl
        rule = FaultRule(0, provider, status, method, path, count, None, until, retry_after)
        rule.reason, rule.body = reason, body
        return self._add(rule)

    def fail_fraction(
        self,
        provider: str,
        status: int,
        ratio: float,
        duration: float,
        *,
        method: str | None = None,
        path: str | None = None,
        retry_after: int | None = None,
        seed: int | None = None,
        reason: str | None = None,
        body: Any = None,
    ) -> FaultRule:
        """For `duration` seconds, each matching call fails with probability `ratio` (seeded)."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        if duration <= 0:
            raise ValueError("duration must be positive")
        rule = FaultRule(0, provider, status, method, path, None, ratio, self.clock() + duration)
        rule.retry_after, rule.seed, rule.rng = retry_after, seed, random.Random(seed)  # noqa: S311 - seeded fault dice
        rule.reason, rule.body = reason, body
        return self._add(rule)

    def check(self, provider: str, method: str, path: str, full_path: str = "") -> Fault | None:
        """The fault for this call, if a rule makes it fail; consumes counted rules."""
        with self._lock:
            now = self.clock()
            self._rules = [r for r in self._rules if not r.expired(now)]
            for rule in self._rules:
                if not rule.matches(provider, method, path, full_path):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                elif rule.ratio is None or rule.rng.random() >= rule.ratio:
                    continue
                rule.hits += 1
                return Fault(rule.id, rule.status, rule.retry_after, rule.reason, rule.body)
            return None

    def rules(self) -> list[FaultRule]:
        """The rules still active."""
        with self._lock:
            now = self.clock()
            self._rules = [r for r in self._rules if not r.expired(now)]
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        """Drop one rule; False when it is unknown (or already lapsed)."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) < before

    def clear(self) -> None:
        """Drop every rule."""
        with self._lock:
            self._rules.clear()
