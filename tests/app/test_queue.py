"""Queue semantics on real Redis (RQ) and in-process: coalescing, retries, dead letters."""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask

from connectors.errors import TransientError
from tests.conftest import AppFactory, drain, hub_of

CALLS: Counter[str] = Counter()
FAIL_TIMES: dict[str, int] = {}


def record(name: str) -> str:
    """A job that counts its runs and fails as often as told."""
    CALLS[name] += 1
    if CALLS[name] <= FAIL_TIMES.get(name, 0):
        raise TransientError(f"{name} failed on purpose")
    return name


def reenqueue_during_run(name: str) -> None:
    """A job that is asked for again while it runs."""
    CALLS[name] += 1
    if CALLS[name] == 1:
        hub_of_current().enqueue(f"again:{name}", "tests.app.test_queue.reenqueue_during_run", name)


def hub_of_current():  # type: ignore[no-untyped-def]
    from app.hub import hub

    return hub()


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()
    FAIL_TIMES.clear()


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def qapp(request: pytest.FixtureRequest, make_app: AppFactory, sqlite_url: str) -> Flask:
    if request.param == "redis":
        return make_app(sqlite_url, request.getfixturevalue("redis_url"))
    return make_app(sqlite_url)


def test_burst_of_same_key_coalesces(qapp: Flask) -> None:
    hub = hub_of(qapp)
    results = [hub.enqueue("k:1", "tests.app.test_queue.record", "a") for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert hub.queue.depth() == 1
    drain(qapp)
    assert CALLS["a"] == 1
    assert hub.enqueue("k:1", "tests.app.test_queue.record", "a") is True  # after the run


def test_enqueue_while_running_schedules_another_run(qapp: Flask) -> None:
    hub_of(qapp).enqueue("again:x", "tests.app.test_queue.reenqueue_during_run", "x")
    drain(qapp)
    assert CALLS["x"] == 2


def test_transient_failure_is_retried(qapp: Flask) -> None:
    FAIL_TIMES["b"] = 2  # the app retries twice (intervals 0, 0)
    hub_of(qapp).enqueue("k:b", "tests.app.test_queue.record", "b")
    drain(qapp)
    assert CALLS["b"] == 3
    assert hub_of(qapp).queue.failed() == []


def test_exhausted_job_lands_in_dead_letters_and_can_be_retried(qapp: Flask) -> None:
    FAIL_TIMES["c"] = 3
    queue = hub_of(qapp).queue
    hub_of(qapp).enqueue("k:c", "tests.app.test_queue.record", "c")
    drain(qapp)
    assert CALLS["c"] == 3
    [dead] = queue.failed()
    assert dead.key == "k:c"
    assert dead.func == "tests.app.test_queue.record"
    assert dead.args == ("c",)
    assert "failed on purpose" in dead.error
    assert "TransientError" in dead.traceback
    assert queue.retry_failed(dead.id) is True
    assert queue.retry_failed("no-such-job") is False
    drain(qapp)
    assert CALLS["c"] == 4
    assert queue.failed() == []
