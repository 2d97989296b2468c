"""A session's Daily room: create (and adopt after a crash), move, recreate and delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from responses import matchers

from connectors.base import LinkState, PushResult, SessionView
from connectors.daily import DailyConnector, DailyOutbound, join_window, room_name
from connectors.errors import AuthError, PermanentError

API = "https://api.daily.test/v1"
KEY = "daily_test_key"
SESSION_ID = "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
NAME = "hub-4f2a9c1e7b3d4e8f9a6b1c2d3e4f5a6b"
URL = f"https://hub.daily.co/{NAME}"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NBF = 1772441100  # 08:45
EXP = 1772449200  # 11:00


def session(start: datetime = START, end: datetime = END, **extra: Any) -> SessionView:
    fields: dict[str, Any] = {
        "id": SESSION_ID,
        "version": 3,
        "status": "confirmed",
        "title": "Coaching",
        "start_at": start,
        "end_at": end,
        "timezone": "Europe/Rome",
        "kind": "video",
        "coach_email": "coach@x.test",
        "coach_name": "Coach",
        "attendee_email": "client@x.test",
        "attendee_name": "Client",
        **extra,
    }
    return SessionView(**fields)


def room(**config: Any) -> dict[str, Any]:
    return {"id": "r-1", "name": NAME, "privacy": "private", "url": URL, "config": config}


def expected(nbf: int = NBF, exp: int = EXP) -> PushResult:
    data: dict[str, Any] = {"url": URL, "nbf": nbf, "exp": exp, "managed": True}
    return PushResult(external_id=NAME, remote_version=None, data=data, meeting_url=URL)


@pytest.fixture
def outbound() -> DailyOutbound:
    made = DailyConnector().outbound(API, KEY)
    assert isinstance(made, DailyOutbound)
    made.client.http.sleep = lambda _: None
    return made


def calls() -> list[str]:
    return [f"{c.request.method} {c.request.url}" for c in responses.calls]


# --- helpers ------------------------------------------------------------------------------


def test_room_name_is_deterministic() -> None:
    assert room_name(SESSION_ID) == NAME
    assert room_name(SESSION_ID.upper()) == NAME
    assert room_name(SESSION_ID.replace("-", "")) == NAME
    with pytest.raises(ValueError, match="badly formed"):
        room_name("not-a-uuid")


def test_join_window() -> None:
    assert join_window(START, END) == (START - timedelta(minutes=15), END + timedelta(hours=1))
    with pytest.raises(ValueError, match="naive"):
        join_window(datetime(2026, 3, 2, 9), END)  # noqa: DTZ001


def test_no_api_key_means_no_outbound() -> None:
    assert DailyConnector().outbound(API, None) is None


def test_outbound_defaults_to_the_public_api() -> None:
    made = DailyConnector().outbound("", KEY)
    assert isinstance(made, DailyOutbound)
    assert made.client.http.base_url == "https://api.daily.co/v1"


# --- create -------------------------------------------------------------------------------


@responses.activate
def test_create(outbound: DailyOutbound) -> None:
    body = {
        "name": NAME,
        "privacy": "private",
        "properties": {"nbf": NBF, "exp": EXP, "eject_at_room_exp": True},
    }
    responses.post(
        f"{API}/rooms",
        json=room(nbf=NBF, exp=EXP, eject_at_room_exp=True),
        match=[
            matchers.json_params_matcher(body),
            matchers.header_matcher({"Authorization": f"Bearer {KEY}"}),
        ],
    )
    assert outbound.create(session()) == expected()
    assert calls() == [f"POST {API}/rooms"]


@responses.activate
def test_room_writes_never_read_the_domain(outbound: DailyOutbound) -> None:
    """A new booking costs one call here (the join endpoint finds the domain id itself)."""
    responses.post(f"{API}/rooms", json=room())
    responses.post(f"{API}/rooms/{NAME}", json=room())
    outbound.create(session())
    assert outbound.update(session(), LinkState(NAME)) == expected()
    assert calls() == [f"POST {API}/rooms", f"POST {API}/rooms/{NAME}"]


@responses.activate
def test_create_after_a_crash_adopts_and_moves_the_room(outbound: DailyOutbound) -> None:
    responses.post(
        f"{API}/rooms",
        status=400,
        json={"error": "invalid-request-error", "info": f"a room named {NAME} already exists"},
    )
    responses.get(f"{API}/rooms/{NAME}", json=room(nbf=NBF - 3600, exp=EXP - 3600))
    responses.post(
        f"{API}/rooms/{NAME}",
        json=room(nbf=NBF, exp=EXP),
        match=[matchers.json_params_matcher({"properties": {"nbf": NBF, "exp": EXP}})],
    )
    assert outbound.create(session()) == expected()
    assert calls() == [
        f"POST {API}/rooms",
        f"GET {API}/rooms/{NAME}",
        f"POST {API}/rooms/{NAME}",
    ]


@responses.activate
def test_create_adopts_a_room_already_right_without_writing(outbound: DailyOutbound) -> None:
    responses.post(
        f"{API}/rooms",
        status=400,
        json={"error": "invalid-request-error", "info": f"a room named {NAME} already exists"},
    )
    responses.get(f"{API}/rooms/{NAME}", json=room(nbf=NBF, exp=EXP))
    assert outbound.create(session()) == expected()
    assert calls() == [f"POST {API}/rooms", f"GET {API}/rooms/{NAME}"]


@responses.activate
def test_create_with_a_bad_key_is_an_auth_error(outbound: DailyOutbound) -> None:
    responses.post(f"{API}/rooms", status=401, json={"error": "authentication-error"})
    with pytest.raises(AuthError):
        outbound.create(session())


@responses.activate
def test_room_without_url_is_permanent(outbound: DailyOutbound) -> None:
    responses.post(f"{API}/rooms", json={"name": NAME})
    with pytest.raises(PermanentError, match="no url"):
        outbound.create(session())


# --- update -------------------------------------------------------------------------------


@responses.activate
def test_update_moves_the_window(outbound: DailyOutbound) -> None:
    later = timedelta(days=1)
    responses.post(
        f"{API}/rooms/{NAME}",
        json=room(nbf=NBF + 86400, exp=EXP + 86400),
        match=[
            matchers.json_params_matcher({"properties": {"nbf": NBF + 86400, "exp": EXP + 86400}})
        ],
    )
    link = LinkState(external_id=NAME, data=expected().data)
    result = outbound.update(session(START + later, END + later), link)
    assert result == expected(NBF + 86400, EXP + 86400)


@responses.activate
def test_update_of_a_missing_room_creates_it(outbound: DailyOutbound) -> None:
    responses.post(f"{API}/rooms/{NAME}", status=404, json={"error": "not-found"})
    responses.post(f"{API}/rooms", json=room(nbf=NBF, exp=EXP))
    assert outbound.update(session(), LinkState(external_id=NAME)) == expected()
    assert calls() == [f"POST {API}/rooms/{NAME}", f"POST {API}/rooms"]


@responses.activate
def test_update_without_an_external_id_uses_the_session_room(outbound: DailyOutbound) -> None:
    responses.post(f"{API}/rooms/{NAME}", json=room(nbf=NBF, exp=EXP))
    assert outbound.update(session(), LinkState(external_id=None)) == expected()


@responses.activate
def test_update_leaves_a_room_the_hub_does_not_manage(outbound: DailyOutbound) -> None:
    data = {"url": "https://cal.daily.co/calvideo", "managed": False}
    link = LinkState(external_id="calvideo", data=data)
    result = outbound.update(session(), link)
    assert result == PushResult("calvideo", data=data, meeting_url="https://cal.daily.co/calvideo")
    assert len(responses.calls) == 0


# --- delete -------------------------------------------------------------------------------


@responses.activate
def test_delete(outbound: DailyOutbound) -> None:
    responses.delete(f"{API}/rooms/{NAME}", json={"deleted": True, "name": NAME})
    outbound.delete(session(status="cancelled"), LinkState(external_id=NAME))
    assert len(responses.calls) == 1


@responses.activate
def test_delete_of_a_room_already_gone_is_done(outbound: DailyOutbound) -> None:
    responses.delete(f"{API}/rooms/{NAME}", status=404, json={"error": "not-found"})
    outbound.delete(session(status="cancelled"), LinkState(external_id=None))
    assert len(responses.calls) == 1


@responses.activate
def test_delete_leaves_a_room_the_hub_does_not_manage(outbound: DailyOutbound) -> None:
    link = LinkState(external_id="calvideo", data={"managed": False})
    outbound.delete(session(status="cancelled"), link)
    assert len(responses.calls) == 0
