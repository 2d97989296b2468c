"""The chaos switch: a seeded share of every provider call fails, the control plane never does."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from connectors.sandbox.chaos import ChaosSwitch
from tests.connectors.sandbox.conftest import Api


def test_half_of_every_providers_calls_fail_with_the_chosen_statuses(api: Api) -> None:
    started = api.control(
        "POST",
        "/chaos",
        json={
            "error_rate": 0.5,
            "statuses": [500, 502, 503, 429],
            "retry_after": 2,
            "seconds": 60,
            "seed": 7,
        },
    )
    assert started.status_code == 201, started.text
    assert started.json()["active"] is True
    seen: Counter[int] = Counter()
    for i in range(100):
        resp = api.daily("GET", "/rooms") if i % 2 else api.calcom("GET", "/bookings")
        seen[resp.status_code] += 1
        if resp.status_code in (429, 503):
            assert resp.headers["Retry-After"] == "2"
        elif resp.status_code in (500, 502):
            assert "Retry-After" not in resp.headers
        # the control plane is not a provider: never failed
        assert api.control("GET", "/state").status_code == 200
    failed = sum(n for status, n in seen.items() if status != 200)
    assert set(seen) <= {200, 500, 502, 503, 429}
    assert 30 <= failed <= 70, seen  # seeded: 50 % of 100 give or take chance
    assert len(set(seen) - {200}) == 4  # every status is used
    status = api.control("GET", "/chaos").json()["chaos"]
    assert status["calls"] == 100
    assert status["failed"] == failed
    assert {int(k): v for k, v in status["failed_by_status"].items()} == {
        k: v for k, v in seen.items() if k != 200
    }
    # the request log marks the failed calls as faults
    log = api.control("GET", "/requests").json()["requests"]
    assert sum(1 for r in log if r["fault"]) == failed


def test_the_same_seed_fails_the_same_calls(api: Api) -> None:
    runs = []
    for _ in range(2):
        api.control("POST", "/chaos", json={"error_rate": 0.3, "seconds": 30, "seed": 42})
        runs.append([api.daily("GET", "/rooms").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert 200 in runs[0]
    assert any(s != 200 for s in runs[0])


def test_chaos_ends_by_itself_and_by_delete(api: Api) -> None:
    api.control("POST", "/chaos", json={"error_rate": 1, "statuses": [503], "seconds": 0.5})
    assert api.daily("GET", "/rooms").status_code == 503
    time.sleep(0.6)
    assert api.daily("GET", "/rooms").status_code == 200
    ended = api.control("GET", "/chaos").json()["chaos"]
    assert (ended["active"], ended["calls"], ended["failed"]) == (False, 1, 1)

    api.control("POST", "/chaos", json={"error_rate": 1, "seconds": 60})
    assert api.daily("GET", "/rooms").status_code >= 429
    stopped = api.control("DELETE", "/chaos").json()["chaos"]
    assert stopped["active"] is False
    assert api.daily("GET", "/rooms").status_code == 200
    api.control("POST", "/chaos", json={"error_rate": 1, "seconds": 60})
    api.control("POST", "/reset")
    assert api.control("GET", "/chaos").json() == {"chaos": None}
    assert api.daily("GET", "/rooms").status_code == 200


def test_filters_and_a_late_answer_after_the_provider_acted(api: Api) -> None:
    api.control(
        "POST",
        "/chaos",
        json={
            "error_rate": 0,
            "seconds": 30,
            "delay_s": 0.4,
            "provider": "daily",
            "method": "POST",
            "path": "/rooms",
        },
    )
    assert api.calcom("GET", "/bookings").status_code == 200  # another provider: untouched
    began = time.monotonic()
    assert api.daily("GET", "/rooms").status_code == 200  # another method: untouched
    quick = time.monotonic() - began
    began = time.monotonic()
    made = api.daily("POST", "/rooms", json={"name": "late-one"})
    assert made.status_code == 200, made.text
    assert time.monotonic() - began >= 0.4 > quick
    assert [r.name for r in api.sandbox.state.rooms.values()] == ["late-one"]
    assert api.control("GET", "/chaos").json()["chaos"]["delayed"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seconds": 10}, "error_rate"),
        ({"error_rate": 1.5, "seconds": 10}, "error_rate"),
        ({"error_rate": 0.5}, "seconds"),
        ({"error_rate": 0.5, "seconds": 0}, "seconds"),
        ({"error_rate": 0.5, "seconds": 10, "statuses": [200]}, "statuses"),
        ({"error_rate": 0.5, "seconds": 10, "statuses": []}, "statuses"),
        ({"error_rate": 0.5, "seconds": 10, "statuses": "500"}, "statuses"),
        ({"error_rate": 0.5, "seconds": 10, "seed": "x"}, "seed"),
        ({"error_rate": 0.5, "seconds": 10, "delay_s": 99}, "delay_s"),
        ({"error_rate": 0.5, "seconds": 10, "retry_after": -1}, "retry_after"),
        ({"error_rate": True, "seconds": 10}, "error_rate"),
    ],
)
def test_bad_chaos_is_a_400_naming_the_field(api: Api, body: dict[str, object], field: str) -> None:
    resp = api.control("POST", "/chaos", json=body)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["message"]
    assert api.control("GET", "/chaos").json() == {"chaos": None}


def test_the_switch_on_a_fake_clock() -> None:
    now = [100.0]
    switch = ChaosSwitch(clock=lambda: now[0])
    assert switch.check("daily", "GET", "/rooms") is None
    switch.start({"error_rate": 1, "statuses": [429], "retry_after": 3, "seconds": 10})
    outcome = switch.check("google", "GET", "/calendar/v3/x")
    assert outcome is not None
    assert (outcome.status, outcome.retry_after) == (429, 3)
    now[0] = 110.0
    assert switch.check("daily", "GET", "/rooms") is None
    assert switch.status() == {**(switch.status() or {}), "active": False, "calls": 1}
