"""Cal.com API v2 client: paths, versions, bodies, paging, rate limits and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from connectors.calcom.client import CalcomClient, rate_limit_reset
from connectors.errors import AuthError, NotFound, PermanentError, TransientError

API = "https://api.cal.test/v2"
KEY = "cal_test_key"
BOOKINGS = {"Authorization": f"Bearer {KEY}", "cal-api-version": "2024-08-13"}
SLOTS = {"Authorization": f"Bearer {KEY}", "cal-api-version": "2024-09-04"}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ok(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def booking(uid: str, **extra: Any) -> dict[str, Any]:
    return {"uid": uid, "status": "accepted", **extra}


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def cal(waits: list[float]) -> CalcomClient:
    return CalcomClient(KEY, API, sleep=waits.append)


@responses.activate
def test_get_booking(cal: CalcomClient) -> None:
    responses.get(
        f"{API}/bookings/abc",
        json=ok(booking("abc")),
        match=[matchers.header_matcher(BOOKINGS)],
    )
    assert cal.get_booking("abc") == booking("abc")


@responses.activate
def test_get_recurring_booking_picks_the_uid(cal: CalcomClient) -> None:
    responses.get(f"{API}/bookings/r1", json=ok([booking("r0"), booking("r1", n=2)]))
    assert cal.get_booking("r1") == booking("r1", n=2)


@responses.activate
def test_list_bookings_pages_until_a_short_page(cal: CalcomClient) -> None:
    common = {"take": "2", "sortUpdatedAt": "asc", "afterUpdatedAt": "2026-01-01T00:00:00Z"}
    for skip, uids in ((0, ["a", "b"]), (2, ["c", "d"]), (4, ["e"])):
        responses.get(
            f"{API}/bookings",
            json=ok([booking(u) for u in uids]),
            match=[
                matchers.query_param_matcher({**common, "skip": str(skip)}),
                matchers.header_matcher(BOOKINGS),
            ],
        )
    after = datetime(2026, 1, 1, tzinfo=UTC)
    assert [b["uid"] for b in cal.list_bookings(after, take=2)] == ["a", "b", "c", "d", "e"]
    assert len(responses.calls) == 3


@responses.activate
def test_list_bookings_stops_on_an_empty_page(cal: CalcomClient) -> None:
    responses.get(f"{API}/bookings", json=ok([booking("a")]))
    responses.get(f"{API}/bookings", json=ok([]))
    assert [b["uid"] for b in cal.list_bookings(take=1)] == ["a"]
    assert "afterUpdatedAt" not in str(responses.calls[0].request.url)


@responses.activate
def test_create_booking(cal: CalcomClient) -> None:
    body = {
        "start": "2026-03-02T09:00:00Z",
        "eventTypeId": 50,
        "attendee": {"name": "Guest", "email": "g@x.test", "timeZone": "Europe/Rome"},
        "guests": ["h@x.test"],
        "metadata": {"sessionhub_session_id": "s-1", "sessionhub_version": "3"},
    }
    responses.post(
        f"{API}/bookings",
        status=201,
        json=ok(booking("new")),
        match=[matchers.json_params_matcher(body), matchers.header_matcher(BOOKINGS)],
    )
    created = cal.create_booking(
        start=START,
        event_type_id=50,
        attendee_name="Guest",
        attendee_email="g@x.test",
        attendee_time_zone="Europe/Rome",
        guests=["h@x.test"],
        metadata={"sessionhub_session_id": "s-1", "sessionhub_version": "3"},
    )
    assert created["uid"] == "new"


def test_create_booking_checks_metadata_limits(cal: CalcomClient) -> None:
    with pytest.raises(ValueError, match="metadata"):
        cal.create_booking(
            start=START,
            event_type_id=1,
            attendee_name="G",
            attendee_email="g@x.test",
            attendee_time_zone="UTC",
            metadata={"k" * 41: "v"},
        )


@responses.activate
def test_cancel_booking(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/abc/cancel",
        json=ok(booking("abc", status="cancelled")),
        match=[
            matchers.json_params_matcher({"cancellationReason": "coach ill"}),
            matchers.header_matcher(BOOKINGS),
        ],
    )
    assert cal.cancel_booking("abc", "coach ill")["status"] == "cancelled"


@responses.activate
def test_reschedule_booking_returns_the_new_booking(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/abc/reschedule",
        status=201,
        json=ok(booking("def", rescheduledFromUid="abc")),
        match=[
            matchers.json_params_matcher(
                {"start": "2026-03-02T09:00:00Z", "reschedulingReason": "clash"}
            ),
            matchers.header_matcher(BOOKINGS),
        ],
    )
    new = cal.reschedule_booking("abc", START, "clash")
    assert (new["uid"], new["rescheduledFromUid"]) == ("def", "abc")


@responses.activate
def test_confirm_and_decline(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/abc/confirm",
        json=ok(booking("abc")),
        match=[matchers.header_matcher(BOOKINGS)],
    )
    responses.post(
        f"{API}/bookings/abc/decline",
        json=ok(booking("abc", status="rejected")),
        match=[matchers.json_params_matcher({"reason": "busy"}), matchers.header_matcher(BOOKINGS)],
    )
    assert cal.confirm_booking("abc")["status"] == "accepted"
    assert cal.decline_booking("abc", "busy")["status"] == "rejected"


@responses.activate
def test_mark_absent(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/abc/mark-absent",
        json=ok(booking("abc", absentHost=False)),
        match=[
            matchers.json_params_matcher(
                {"host": False, "attendees": [{"email": "g@x.test", "absent": True}]}
            ),
            matchers.header_matcher(BOOKINGS),
        ],
    )
    responses.post(
        f"{API}/bookings/xyz/mark-absent",
        json=ok(booking("xyz", absentHost=True)),
        match=[matchers.json_params_matcher({"host": True})],
    )
    cal.mark_absent("abc", host=False, attendees=[{"email": "g@x.test", "absent": True}])
    assert cal.mark_absent("xyz", host=True)["absentHost"] is True


@responses.activate
def test_get_slots(cal: CalcomClient) -> None:
    slots = {"2026-03-02": [{"start": "2026-03-02T09:00:00.000+01:00"}]}
    responses.get(
        f"{API}/slots",
        json=ok(slots),
        match=[
            matchers.query_param_matcher(
                {
                    "eventTypeId": "50",
                    "start": "2026-03-02T00:00:00Z",
                    "end": "2026-03-03T00:00:00Z",
                    "timeZone": "Europe/Rome",
                }
            ),
            matchers.header_matcher(SLOTS),
        ],
    )
    day = datetime(2026, 3, 2, tzinfo=UTC)
    assert cal.get_slots(50, day, day.replace(day=3), "Europe/Rome") == slots


@responses.activate
def test_uids_are_quoted_in_paths(cal: CalcomClient) -> None:
    responses.get(f"{API}/bookings/a%2Fb", json=ok(booking("a/b")))
    assert cal.get_booking("a/b")["uid"] == "a/b"


# --- rate limits and errors ---------------------------------------------------------------


@responses.activate
def test_429_waits_for_the_rate_limit_reset_then_succeeds(
    cal: CalcomClient, waits: list[float]
) -> None:
    responses.get(
        f"{API}/bookings/abc",
        status=429,
        json={"status": "error", "error": {"message": "Too many requests"}},
        headers={
            "X-RateLimit-Limit-Default": "120",
            "X-RateLimit-Remaining-Default": "0",
            "X-RateLimit-Reset-Default": "12",
        },
    )
    responses.get(f"{API}/bookings/abc", json=ok(booking("abc")))
    assert cal.get_booking("abc")["uid"] == "abc"
    assert waits == [12.0]


@responses.activate
def test_429_storm_ends_in_transient_error_for_the_job_layer(
    cal: CalcomClient, waits: list[float]
) -> None:
    responses.get(
        f"{API}/bookings/abc",
        status=429,
        headers={"X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "60"},
    )
    with pytest.raises(TransientError) as caught:
        cal.get_booking("abc")
    assert caught.value.retry_after == 60.0  # longer than one in-process wait: hand it back
    assert waits == []


def test_rate_limit_reset_picks_the_first_exhausted_limit_to_clear() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    headers = {
        "X-RateLimit-Remaining-Default": "0",
        "X-RateLimit-Reset-Default": "40",
        "X-RateLimit-Remaining-Burst": "0",
        "X-RateLimit-Reset-Burst": "5",
        "X-RateLimit-Remaining-Daily": "300",
        "X-RateLimit-Reset-Daily": "80000",
    }
    assert rate_limit_reset(headers, now) == 5.0
    assert rate_limit_reset({"X-RateLimit-Reset-Default": "9"}, now) == 9.0
    epoch = str(int(now.timestamp()) + 20)
    assert rate_limit_reset({"x-ratelimit-reset-default": epoch}, now) == 20.0
    assert rate_limit_reset({"Retry-After": "3"}, now) is None


@pytest.mark.parametrize("status", [401, 498])
@responses.activate
def test_refused_or_expired_credentials_are_auth_errors(cal: CalcomClient, status: int) -> None:
    responses.get(f"{API}/bookings/abc", status=status, json={"status": "error"})
    with pytest.raises(AuthError):
        cal.get_booking("abc")
    assert len(responses.calls) == 1


@responses.activate
def test_404_is_not_found(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/gone/cancel",
        status=404,
        json={"status": "error", "error": {"code": "NotFoundException", "message": "not found"}},
    )
    with pytest.raises(NotFound, match="not found"):
        cal.cancel_booking("gone")


@responses.activate
def test_400_is_permanent(cal: CalcomClient) -> None:
    responses.post(
        f"{API}/bookings/abc/reschedule",
        status=400,
        json={"status": "error", "error": {"message": "slot not available"}},
    )
    with pytest.raises(PermanentError, match="slot not available"):
        cal.reschedule_booking("abc", START)


@responses.activate
def test_5xx_is_retried_then_transient(cal: CalcomClient, waits: list[float]) -> None:
    responses.get(f"{API}/bookings/abc", status=502)
    with pytest.raises(TransientError):
        cal.get_booking("abc")
    assert len(responses.calls) == 4
    assert len(waits) == 3


@responses.activate
def test_create_is_not_retried_after_a_5xx(cal: CalcomClient, waits: list[float]) -> None:
    responses.post(f"{API}/bookings", status=502)
    with pytest.raises(TransientError):
        cal.create_booking(
            start=START,
            event_type_id=1,
            attendee_name="G",
            attendee_email="g@x.test",
            attendee_time_zone="UTC",
        )
    assert len(responses.calls) == 1  # a lost answer must not book twice


@responses.activate
def test_cancel_is_retried_after_a_5xx(cal: CalcomClient, waits: list[float]) -> None:
    responses.post(f"{API}/bookings/abc/cancel", status=503)
    responses.post(f"{API}/bookings/abc/cancel", json=ok(booking("abc", status="cancelled")))
    assert cal.cancel_booking("abc")["status"] == "cancelled"
    assert len(waits) == 1


def test_naive_datetimes_are_refused(cal: CalcomClient) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.reschedule_booking("abc", datetime(2026, 3, 2, 9))  # noqa: DTZ001
