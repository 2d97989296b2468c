"""The webhook rate-limit counter: shared through Redis, without a round trip per delivery."""

from __future__ import annotations

import uuid

import pytest
import redis as redis_lib

import app.http.budget as budget_mod
from app.http.budget import WebhookBudget

pytestmark = pytest.mark.redis


def make(redis_client: redis_lib.Redis | None, rates: str, prefix: str) -> WebhookBudget:
    return WebhookBudget(rates, redis_client, prefix)


@pytest.fixture
def prefix(redis_client: redis_lib.Redis) -> str:
    name = f"test-budget-{uuid.uuid4().hex[:8]}"
    yield name  # type: ignore[misc]
    keys = list(redis_client.scan_iter(match=f"{name}:*"))
    if keys:
        redis_client.delete(*keys)


def shared(redis_client: redis_lib.Redis, prefix: str) -> int:
    return sum(int(redis_client.get(k) or 0) for k in redis_client.scan_iter(match=f"{prefix}:*"))


def test_a_large_limit_costs_a_round_trip_per_slice_not_per_hit(
    redis_client: redis_lib.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_mod, "SYNC_SECONDS", 3600.0)  # only the 1 % slice triggers
    budget = make(redis_client, "10000/hour", prefix)
    assert budget.hit("calcom").allowed
    assert shared(redis_client, prefix) == 1  # a window's first hit reads the shared count
    for _ in range(100):
        assert budget.hit("calcom").allowed
    assert shared(redis_client, prefix) == 1  # 100 = 1 % of the limit: counted here so far
    assert budget.hit("calcom").allowed
    assert shared(redis_client, prefix) == 102  # the slice went to Redis in one INCRBY


def test_counts_reach_redis_at_least_every_sync_period(
    redis_client: redis_lib.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_mod, "SYNC_SECONDS", 0.0)
    budget = make(redis_client, "10000/hour", prefix)
    for _ in range(5):
        budget.hit("calcom")
    assert shared(redis_client, prefix) == 5


def test_processes_share_the_limit_within_one_percent_each(
    redis_client: redis_lib.Redis, prefix: str
) -> None:
    one, two = (make(redis_client, "500/hour", prefix) for _ in range(2))
    allowed = 0
    for n in range(700):
        allowed += (one if n % 3 else two).hit("calcom").allowed
    assert 500 <= allowed <= 500 + 2 * 5  # at most 1 % over per process


def test_a_small_limit_is_exact_across_processes(
    redis_client: redis_lib.Redis, prefix: str
) -> None:
    one, two = (make(redis_client, "3/minute", prefix) for _ in range(2))
    assert [one.hit("p").allowed for _ in range(3)] == [True, True, True]
    over = two.hit("p")
    assert not over.allowed
    assert str(over.limit) == "3 per 1 minute"
    assert 1 <= over.retry_after <= 60
    assert two.hit("other").allowed  # each provider has its own budget


def test_every_limit_of_several_counts(redis_client: redis_lib.Redis, prefix: str) -> None:
    budget = make(redis_client, "2/second;3/hour", prefix)
    verdicts = [budget.hit("p") for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert str(verdicts[2].limit) == "2 per 1 second"


def test_a_new_window_starts_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(budget_mod.time, "time", lambda: now[0])
    budget = make(None, "2/minute", "x")  # embedded: counted in memory
    assert [budget.hit("p").allowed for _ in range(3)] == [True, True, False]
    now[0] += 60
    assert budget.hit("p").allowed


def test_redis_down_counts_in_memory_then_retries_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    down = redis_lib.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    budget = make(down, "3/minute", "x")
    assert [budget.hit("p").allowed for _ in range(4)] == [True, True, True, False]
    assert budget._redis_back_at > 0  # noqa: SLF001 - backing off before the next attempt
