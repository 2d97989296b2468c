"""Daily REST client: methods, paths, bodies, headers, paging, rate limits and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from connectors.daily import DailyClient, RoomExists
from connectors.daily.client import unix_seconds
from connectors.errors import AuthError, NotFound, PermanentError, TransientError

API = "https://api.daily.test/v1"
KEY = "daily_test_key"
AUTH = {"Authorization": f"Bearer {KEY}"}
NBF = datetime(2026, 3, 2, 8, 45, tzinfo=UTC)
EXP = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def room(name: str, **config: Any) -> dict[str, Any]:
    return {
        "id": "d61cd7b2-a273-42b4-89bd-be763fd562c1",
        "name": name,
        "api_created": True,
        "privacy": "private",
        "url": f"https://hub.daily.co/{name}",
        "created_at": "2026-03-01T00:00:00.000Z",
        "config": config,
    }


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def daily(waits: list[float]) -> DailyClient:
    return DailyClient(KEY, API, sleep=waits.append)


@responses.activate
def test_get_domain(daily: DailyClient) -> None:
    config = {"domain_name": "hub", "domain_id": "30f866c3-9123-452a-8723-ff58322d09c5"}
    responses.get(f"{API}/", json=config, match=[matchers.header_matcher(AUTH)])
    assert daily.get_domain() == config


# --- rooms --------------------------------------------------------------------------------


@responses.activate
def test_create_room(daily: DailyClient) -> None:
    body = {
        "name": "hub-abc",
        "privacy": "private",
        "properties": {
            "nbf": 1772441100,
            "exp": 1772449200,
            "eject_at_room_exp": True,
            "enable_recording": "cloud",
        },
    }
    responses.post(
        f"{API}/rooms",
        json=room("hub-abc", nbf=1772441100, exp=1772449200),
        match=[matchers.json_params_matcher(body), matchers.header_matcher(AUTH)],
    )
    created = daily.create_room("hub-abc", nbf=NBF, exp=EXP, enable_recording="cloud")
    assert created["url"] == "https://hub.daily.co/hub-abc"


@responses.activate
def test_create_room_that_exists_raises_room_exists(daily: DailyClient) -> None:
    responses.post(
        f"{API}/rooms",
        status=400,
        json={"error": "invalid-request-error", "info": "a room named hub-abc already exists"},
    )
    with pytest.raises(RoomExists, match="hub-abc already exists") as caught:
        daily.create_room("hub-abc", nbf=NBF, exp=EXP)
    assert caught.value.status == 400
    assert isinstance(caught.value, PermanentError)
    assert len(responses.calls) == 1


@responses.activate
def test_create_room_other_400_is_permanent_with_the_info(daily: DailyClient) -> None:
    responses.post(
        f"{API}/rooms",
        status=400,
        json={"error": "invalid-request-error", "info": "hub abc contains invalid characters"},
    )
    with pytest.raises(PermanentError, match="invalid characters") as caught:
        daily.create_room("hub abc", nbf=NBF, exp=EXP)
    assert not isinstance(caught.value, RoomExists)


@responses.activate
def test_create_room_400_without_json(daily: DailyClient) -> None:
    responses.post(f"{API}/rooms", status=400, body="bad request")
    with pytest.raises(PermanentError, match="not JSON"):
        daily.create_room("hub-abc", nbf=NBF, exp=EXP)


@responses.activate
def test_create_room_is_not_retried_after_a_5xx(daily: DailyClient) -> None:
    responses.post(f"{API}/rooms", status=502)
    with pytest.raises(TransientError):
        daily.create_room("hub-abc", nbf=NBF, exp=EXP)
    assert len(responses.calls) == 1  # the outbound retries later and adopts what it finds


@responses.activate
def test_get_room_quotes_the_name(daily: DailyClient) -> None:
    responses.get(
        f"{API}/rooms/odd%2Fname%20x",
        json=room("odd/name x"),
        match=[matchers.header_matcher(AUTH)],
    )
    assert daily.get_room("odd/name x")["name"] == "odd/name x"


@responses.activate
def test_update_room_posts_properties(daily: DailyClient) -> None:
    responses.post(
        f"{API}/rooms/hub-abc",
        json=room("hub-abc", nbf=1, exp=2),
        match=[
            matchers.json_params_matcher({"properties": {"nbf": 1, "exp": 2}}),
            matchers.header_matcher(AUTH),
        ],
    )
    assert daily.update_room("hub-abc", {"nbf": 1, "exp": 2})["config"] == {"nbf": 1, "exp": 2}


@responses.activate
def test_update_room_is_retried_after_a_5xx(daily: DailyClient, waits: list[float]) -> None:
    responses.post(f"{API}/rooms/hub-abc", status=503)
    responses.post(f"{API}/rooms/hub-abc", json=room("hub-abc"))
    assert daily.update_room("hub-abc", {"exp": 2})["name"] == "hub-abc"
    assert len(waits) == 1


@responses.activate
def test_update_missing_room_is_not_found(daily: DailyClient) -> None:
    responses.post(
        f"{API}/rooms/gone", status=404, json={"error": "not-found", "info": "room gone not found"}
    )
    with pytest.raises(NotFound):
        daily.update_room("gone", {"exp": 2})


@responses.activate
def test_delete_room(daily: DailyClient) -> None:
    responses.delete(
        f"{API}/rooms/hub-abc",
        json={"deleted": True, "name": "hub-abc"},
        match=[matchers.header_matcher(AUTH)],
    )
    daily.delete_room("hub-abc")
    assert len(responses.calls) == 1


@responses.activate
def test_delete_room_already_gone_is_done(daily: DailyClient) -> None:
    responses.delete(f"{API}/rooms/hub-abc", status=404, json={"error": "not-found"})
    daily.delete_room("hub-abc")
    assert len(responses.calls) == 1


# --- meeting tokens and meetings ----------------------------------------------------------


@responses.activate
def test_create_meeting_token(daily: DailyClient) -> None:
    props = {
        "room_name": "hub-abc",
        "user_id": "coach",
        "user_name": "Ada Coach",
        "is_owner": True,
        "nbf": 1772441100,
        "exp": 1772449200,
        "eject_at_token_exp": True,
    }
    responses.post(
        f"{API}/meeting-tokens",
        json={"token": "eyJhbGciOi.token"},
        match=[matchers.json_params_matcher({"properties": props}), matchers.header_matcher(AUTH)],
    )
    token = daily.create_meeting_token(
        "hub-abc", user_id="coach", user_name="Ada Coach", is_owner=True, nbf=NBF, exp=EXP
    )
    assert token == "eyJhbGciOi.token"


@responses.activate
def test_meeting_token_response_without_token(daily: DailyClient) -> None:
    responses.post(f"{API}/meeting-tokens", json={})
    with pytest.raises(PermanentError, match="no token"):
        daily.create_meeting_token(
            "hub-abc", user_id="attendee", user_name="B", is_owner=False, nbf=NBF, exp=EXP
        )


def meeting(ident: str) -> dict[str, Any]:
    return {"id": ident, "room": "hub-abc", "start_time": 1772441400, "participants": []}


@responses.activate
def test_list_meetings_follows_starting_after(daily: DailyClient) -> None:
    common = {"room": "hub-abc", "limit": "2", "timeframe_start": "1772441100"}
    pages = [(None, ["m1", "m2"]), ("m2", ["m3", "m4"]), ("m4", ["m5"])]
    for after, ids in pages:
        query = {**common, **({"starting_after": after} if after else {})}
        responses.get(
            f"{API}/meetings",
            json={"total_count": 5, "data": [meeting(i) for i in ids]},
            match=[matchers.query_param_matcher(query), matchers.header_matcher(AUTH)],
        )
    found = daily.list_meetings("hub-abc", timeframe_start=NBF, limit=2)
    assert [m["id"] for m in found] == ["m1", "m2", "m3", "m4", "m5"]
    assert len(responses.calls) == 3


@responses.activate
def test_list_meetings_stops_on_an_empty_page(daily: DailyClient) -> None:
    responses.get(f"{API}/meetings", json={"total_count": 1, "data": [meeting("m1")]})
    responses.get(f"{API}/meetings", json={"total_count": 1, "data": []})
    assert [m["id"] for m in daily.list_meetings("hub-abc", limit=1)] == ["m1"]
    assert "timeframe_start" not in str(responses.calls[0].request.url)
    assert "limit=1" in str(responses.calls[0].request.url)


@responses.activate
def test_list_meetings_stops_when_the_cursor_repeats(daily: DailyClient) -> None:
    responses.get(f"{API}/meetings", json={"data": [meeting("m1")]})
    assert [m["id"] for m in daily.list_meetings("hub-abc", limit=1)] == ["m1", "m1"]
    assert len(responses.calls) == 2


@responses.activate
def test_list_meetings_without_data_is_permanent(daily: DailyClient) -> None:
    responses.get(f"{API}/meetings", json={"error": "x"})
    with pytest.raises(PermanentError, match="data is not a list"):
        list(daily.list_meetings("hub-abc"))


# --- webhooks -----------------------------------------------------------------------------

HOOK: dict[str, Any] = {
    "uuid": "3a1b2c3d-0000-4000-8000-000000000001",
    "url": "https://hub.example/webhooks/daily",
    "eventTypes": ["meeting.started", "meeting.ended"],
    "state": "FAILED",
    "failedCount": 3,
}


@responses.activate
def test_list_webhooks(daily: DailyClient) -> None:
    responses.get(f"{API}/webhooks", json=[HOOK], match=[matchers.header_matcher(AUTH)])
    assert daily.list_webhooks() == [HOOK]


@pytest.mark.parametrize(
    ("answer", "expected"), [({"data": [HOOK]}, [HOOK]), (HOOK, [HOOK]), ({}, [])]
)
@responses.activate
def test_list_webhooks_tolerates_an_object(
    daily: DailyClient, answer: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    responses.get(f"{API}/webhooks", json=answer)
    assert daily.list_webhooks() == expected


@responses.activate
def test_update_webhook(daily: DailyClient) -> None:
    responses.post(
        f"{API}/webhooks/{HOOK['uuid']}",
        json={**HOOK, "retryType": "exponential"},
        match=[
            matchers.json_params_matcher({"retryType": "exponential"}),
            matchers.header_matcher(AUTH),
        ],
    )
    assert daily.update_webhook(HOOK["uuid"], retryType="exponential")["retryType"] == "exponential"


@responses.activate
def test_reactivate_a_failed_webhook_posts_it_again(daily: DailyClient) -> None:
    responses.post(
        f"{API}/webhooks/{HOOK['uuid']}",
        json={**HOOK, "state": "ACTIVE", "failedCount": 0},
        match=[
            matchers.json_params_matcher({"url": HOOK["url"], "eventTypes": HOOK["eventTypes"]})
        ],
    )
    assert daily.reactivate_webhook(HOOK)["state"] == "ACTIVE"


def test_reactivate_needs_uuid_and_url(daily: DailyClient) -> None:
    with pytest.raises(ValueError, match="uuid and url"):
        daily.reactivate_webhook({"uuid": "x"})


# --- rate limits, errors, times -----------------------------------------------------------


@responses.activate
def test_429_waits_for_retry_after_then_succeeds(daily: DailyClient, waits: list[float]) -> None:
    responses.get(
        f"{API}/rooms/hub-abc",
        status=429,
        json={"error": "rate-limit-error", "info": "too many requests"},
        headers={"Retry-After": "3"},
    )
    responses.get(f"{API}/rooms/hub-abc", json=room("hub-abc"))
    assert daily.get_room("hub-abc")["name"] == "hub-abc"
    assert waits == [3.0]


@responses.activate
def test_429_on_create_is_retried_too(daily: DailyClient, waits: list[float]) -> None:
    responses.post(f"{API}/rooms", status=429, headers={"Retry-After": "2"})
    responses.post(f"{API}/rooms", json=room("hub-abc"))
    assert daily.create_room("hub-abc", nbf=NBF, exp=EXP)["name"] == "hub-abc"
    assert waits == [2.0]  # a 429 was refused before any work, so a create may repeat


@responses.activate
def test_429_storm_ends_in_transient_error(daily: DailyClient, waits: list[float]) -> None:
    responses.get(f"{API}/rooms/hub-abc", status=429, headers={"Retry-After": "1"})
    with pytest.raises(TransientError):
        daily.get_room("hub-abc")
    assert len(responses.calls) == 4
    assert waits == [1.0, 1.0, 1.0]


@responses.activate
def test_bad_key_is_an_auth_error(daily: DailyClient) -> None:
    responses.get(
        f"{API}/rooms/hub-abc",
        status=401,
        json={"error": "authentication-error", "info": "bad API key"},
    )
    with pytest.raises(AuthError):
        daily.get_room("hub-abc")
    assert len(responses.calls) == 1


@responses.activate
def test_missing_authorization_header_400_is_permanent(daily: DailyClient) -> None:
    responses.get(f"{API}/rooms/hub-abc", status=400, json={"error": "authorization-header-error"})
    with pytest.raises(PermanentError, match="authorization-header-error") as caught:
        daily.get_room("hub-abc")
    assert not isinstance(caught.value, AuthError)


def test_unix_seconds() -> None:
    assert unix_seconds(NBF) == 1772441100
    with pytest.raises(ValueError, match="naive"):
        unix_seconds(datetime(2026, 3, 2, 9))  # noqa: DTZ001


def test_naive_datetimes_are_refused(daily: DailyClient) -> None:
    with pytest.raises(ValueError, match="naive"):
        daily.create_room("hub-abc", nbf=datetime(2026, 3, 2), exp=EXP)  # noqa: DTZ001
