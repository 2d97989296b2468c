"""The Daily sandbox: rooms, tokens, meetings, signed call events and the FAILED circuit breaker."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connectors.daily import webhook as daily_webhook
from connectors.daily.client import DailyClient, RoomExists
from connectors.errors import NotFound
from connectors.sandbox import RunningSandbox
from tests.connectors.sandbox.conftest import DAILY_KEY, DAILY_SECRET, Api, HubStub, Received

NBF = 1767261600
PEOPLE = [
    {"user_id": "coach-1", "user_name": "Coach", "is_owner": True, "stay_s": 3000},
    {"user_id": "client-1", "user_name": "Client", "join_after_s": 60, "stay_s": 2700},
]


def daily_signature(got: Received, secret: str = DAILY_SECRET) -> str:
    """What Daily puts in X-Webhook-Signature, computed independently of the sandbox."""
    message = got.headers["x-webhook-timestamp"].encode() + b"." + got.raw
    mac = hmac.new(base64.b64decode(secret), message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def room(api: Api, name: str = "hub-session-1", **properties: Any) -> dict[str, Any]:
    resp = api.daily("POST", "/rooms", json={"name": name, "properties": properties})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def call(api: Api, name: str = "hub-session-1", **extra: Any) -> dict[str, Any]:
    resp = api.control("POST", f"/daily/rooms/{name}/call", json={"participants": PEOPLE, **extra})
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_rooms_crud_duplicate_and_unknown(api: Api) -> None:
    made = room(api, nbf=NBF, exp=NBF + 7200, eject_at_room_exp=True)
    assert made["url"] == "https://sandbox.daily.co/hub-session-1"
    assert made["config"] == {"nbf": NBF, "exp": NBF + 7200, "eject_at_room_exp": True}
    assert {"id", "name", "api_created", "privacy", "created_at"} <= made.keys()
    dup = api.daily("POST", "/rooms", json={"name": "hub-session-1"})
    assert (dup.status_code, dup.json()) == (
        400,
        {"error": "invalid-request-error", "info": "a room named hub-session-1 already exists"},
    )
    changed = api.daily("POST", "/rooms/hub-session-1", json={"properties": {"exp": NBF + 9000}})
    assert changed.json()["config"]["exp"] == NBF + 9000
    assert api.daily("GET", "/rooms/hub-session-1").json()["config"]["nbf"] == NBF
    assert api.daily("DELETE", "/rooms/hub-session-1").json() == {
        "deleted": True,
        "name": "hub-session-1",
    }
    gone = api.daily("GET", "/rooms/hub-session-1")
    assert (gone.status_code, gone.json()["error"]) == (404, "not-found")
    assert api.daily("DELETE", "/rooms/hub-session-1").status_code == 404
    assert api.daily("POST", "/rooms", json={"properties": {"nbf": "soon"}}).status_code == 400


def test_missing_and_wrong_keys(api: Api) -> None:
    missing = api.daily("GET", "/rooms", headers={"Authorization": ""})
    assert (missing.status_code, missing.json()["error"]) == (400, "authorization-header-error")
    wrong = api.daily("GET", "/rooms", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "authentication-error")


def test_meeting_tokens_are_recorded(api: Api, sandbox: RunningSandbox) -> None:
    claims = {"room_name": "r1", "user_id": "u-7", "is_owner": False, "nbf": NBF, "exp": NBF + 60}
    token = api.daily("POST", "/meeting-tokens", json={"properties": claims}).json()["token"]
    [grant] = sandbox.state.tokens
    assert (grant.token, grant.claims) == (token, claims)
    assert api.daily("GET", f"/meeting-tokens/{token}").json() == claims
    bad = api.daily("POST", "/meeting-tokens", json={"properties": {"is_owner": "yes"}})
    assert bad.status_code == 400


def test_a_call_sends_signed_events_and_records_the_meeting(api: Api, hub: HubStub) -> None:
    room(api, nbf=NBF, exp=NBF + 7200)
    result = call(api)
    got = hub.of("daily")
    assert [g.body["type"] for g in got] == [
        "meeting.started",
        "participant.joined",
        "participant.joined",
        "participant.left",
        "participant.left",
        "meeting.ended",
    ]
    for g in got:
        assert g.headers["x-webhook-signature"] == daily_signature(g)
        daily_webhook.verify(g.headers, g.raw, [DAILY_SECRET])  # the hub's own verifier
        assert daily_webhook.parse(g.raw, g.headers).event_type == g.body["type"]
        assert len(g.headers["x-webhook-timestamp"]) == 13  # milliseconds
        assert g.body["version"] == "1.0.0"
    assert len({g.body["id"] for g in got}) == 6
    started, joined, ended = got[0].body, got[2].body, got[-1].body
    meeting_id = result["meeting"]["id"]
    assert started["payload"] == {
        "start_ts": NBF,
        "meeting_id": meeting_id,
        "room": "hub-session-1",
    }
    assert joined["payload"]["joined_at"] == NBF + 60
    assert (joined["payload"]["user_id"], joined["payload"]["owner"]) == ("client-1", False)
    assert joined["payload"]["will_eject_at"] == NBF + 7200
    assert got[3].body["payload"]["duration"] == 2700  # the client leaves first
    assert (ended["payload"]["start_ts"], ended["payload"]["end_ts"]) == (NBF, NBF + 3000)
    assert isinstance(ended["event_ts"], float)
    listed = api.daily("GET", "/meetings", params={"room": "hub-session-1"}).json()
    assert listed["total_count"] == 1
    [meeting] = listed["data"]
    assert (meeting["id"], meeting["start_time"], meeting["duration"]) == (meeting_id, NBF, 3000)
    assert meeting["ongoing"] is False
    assert [p["user_id"] for p in meeting["participants"]] == ["coach-1", "client-1"]
    assert {"participant_id", "user_name", "join_time", "duration"} <= meeting["participants"][
        0
    ].keys()


def test_shuffled_and_duplicated_events(api: Api, hub: HubStub) -> None:
    room(api)
    result = call(api, shuffle=True, seed=7, duplicate=True)
    got = [g.body for g in hub.of("daily")]
    assert len(got) == 12
    assert got == result["events"]
    ids = [e["id"] for e in got]
    assert all(ids.count(i) == 2 for i in ids)
    in_order = ["meeting.started", "participant.joined", "participant.joined"]
    in_order += ["participant.left", "participant.left", "meeting.ended"]
    assert [e["type"] for e in got] != [t for t in in_order for _ in range(2)]
    assert sorted(e["type"] for e in got) == sorted(in_order * 2)


def test_an_ongoing_call_ends_later(api: Api, hub: HubStub) -> None:
    room(api)
    meeting = call(api, end=False)["meeting"]
    assert meeting["ongoing"] is True
    assert [g.body["type"] for g in hub.of("daily")][-1] == "participant.joined"
    ongoing = api.daily("GET", "/meetings", params={"ongoing": "true"}).json()
    assert ongoing["total_count"] == 1
    ended = api.control("POST", f"/daily/meetings/{meeting['id']}/end", json={})
    assert [e["type"] for e in ended.json()["events"]][-1] == "meeting.ended"
    assert api.control("POST", f"/daily/meetings/{meeting['id']}/end").status_code == 409


def test_meetings_page_newest_first(api: Api) -> None:
    room(api)
    ids = [call(api, start_ts=NBF + n * 10_000, deliver=False)["meeting"]["id"] for n in range(3)]
    first = api.daily("GET", "/meetings", params={"limit": 2}).json()
    assert [m["id"] for m in first["data"]] == [ids[2], ids[1]]
    rest = api.daily("GET", "/meetings", params={"limit": 2, "starting_after": ids[1]}).json()
    assert [m["id"] for m in rest["data"]] == [ids[0]]
    late = api.daily("GET", "/meetings", params={"timeframe_start": NBF + 10_000}).json()
    assert late["total_count"] == 2


def _hook(api: Api) -> dict[str, Any]:
    [hook] = api.daily("GET", "/webhooks").json()
    return dict(hook)


def test_three_failed_deliveries_fail_the_webhook_until_reactivated(
    api: Api, hub: HubStub, sandbox: RunningSandbox
) -> None:
    room(api)
    assert _hook(api)["state"] == "ACTIVE"
    hub.answer(500, 200, 500, 500, 502)
    call(api)  # 6 events: fail, ok (resets), fail, fail, fail -> FAILED, then held back
    hook = _hook(api)
    assert (hook["state"], hook["failedCount"]) == ("FAILED", 3)
    assert len(hub.of("daily")) == 5
    results = [d.result for d in sandbox.state.deliveries("daily")]
    assert results == ["failed", "delivered", "failed", "failed", "failed", "suppressed"]
    call(api)
    assert len(hub.of("daily")) == 5  # a FAILED webhook gets nothing
    again = api.daily("POST", f"/webhooks/{hook['uuid']}", json={})
    assert (again.json()["state"], again.json()["failedCount"]) == ("ACTIVE", 0)
    call(api)
    assert len(hub.of("daily")) == 11
    assert _hook(api)["lastMomentPushed"] is not None


def test_fail_action_and_webhook_creation_probe(api: Api, hub: HubStub) -> None:
    room(api)
    failed = api.control("POST", "/daily/webhook/fail", json={}).json()["webhooks"]
    assert failed[0]["state"] == "FAILED"
    call(api)
    assert hub.of("daily") == []
    hub.answer(500)
    refused = api.daily("POST", "/webhooks", json={"url": f"{hub.url}/webhooks/other"})
    assert refused.status_code == 400
    assert "recvd 500" in refused.json()["info"]
    made = api.daily(
        "POST", "/webhooks", json={"url": f"{hub.url}/webhooks/other", "eventTypes": ["x"]}
    ).json()
    assert (made["state"], made["eventTypes"]) == ("ACTIVE", ["x"])
    probe = [r for r in hub.received if r.path == "/webhooks/other"][-1]
    assert probe.raw == b'{"test":"test"}'
    assert probe.headers["x-webhook-signature"] == daily_signature(probe, made["hmac"])


def test_the_hubs_daily_client_against_the_sandbox(
    sandbox: RunningSandbox, http: requests.Session, api: Api
) -> None:
    daily = DailyClient(DAILY_KEY, sandbox.daily_api_url, session=http, sleep=lambda _: None)
    nbf = datetime.fromtimestamp(NBF, UTC)
    made = daily.create_room("hub-abc", nbf=nbf, exp=nbf + timedelta(hours=2))
    assert made["config"] == {"nbf": NBF, "exp": NBF + 7200, "eject_at_room_exp": True}
    with pytest.raises(RoomExists):
        daily.create_room("hub-abc", nbf=nbf, exp=nbf + timedelta(hours=2))
    token = daily.create_meeting_token(
        "hub-abc", user_id="coach", user_name="C", is_owner=True, nbf=nbf, exp=nbf
    )
    assert sandbox.state.tokens[-1].token == token
    assert sandbox.state.tokens[-1].claims["user_id"] == "coach"
    for n in range(3):
        call(api, "hub-abc", start_ts=NBF + n * 10_000, deliver=False)
    assert len(list(daily.list_meetings("hub-abc", limit=2))) == 3
    api.control("POST", "/daily/webhook/fail", json={})
    [hook] = daily.list_webhooks()
    assert daily.reactivate_webhook(hook)["state"] == "ACTIVE"
    assert daily.get_domain()["domain_name"] == "sandbox"
    daily.delete_room("hub-abc")
    daily.delete_room("hub-abc")  # already gone is fine
    with pytest.raises(NotFound):
        daily.get_room("hub-abc")
