"""The read API and status changes, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.apikeys import create_key, revoke_key
from tests.conftest import drain, hub_of
from tests.testhook import TestHook, event, registered, sign


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def deliver(app: Flask, **fields: str) -> None:
    body = event(**fields)
    resp = app.test_client().post(
        "/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new")
    )
    assert resp.status_code == 200
    drain(app)


def only_session(client: FlaskClient, auth: dict[str, str]) -> dict[str, object]:
    items = client.get("/api/sessions", headers=auth).json["items"]
    assert len(items) == 1
    session: dict[str, object] = items[0]
    return session


def test_no_key_is_401_json(client: FlaskClient) -> None:
    for path in ("/api/sessions", "/api/coaches", "/api/deliveries"):
        resp = client.get(path)
        assert resp.status_code == 401
        assert resp.is_json
        assert resp.json["error"] == "unauthorized"
    assert client.get("/api/sessions", headers={"Authorization": "Basic x"}).status_code == 401


def test_unknown_and_revoked_keys_are_401(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    bad = client.get("/api/sessions", headers={"Authorization": "Bearer shk_nope"})
    assert bad.status_code == 401
    assert bad.json["error"] == "invalid_api_key"
    assert client.get("/api/sessions", headers=auth).status_code == 200
    with hub_of(app).db.session() as db:
        revoke_key(db, "test-platform")
    assert client.get("/api/sessions", headers=auth).status_code == 401


def test_session_shape_and_search_by_external_id(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    deliver(app)
    session = only_session(client, auth)
    assert session["status"] == "confirmed"
    assert session["start_at"] == "2030-01-10T10:00:00Z"
    assert session["coach"]["email"] == "coach@example.com"  # type: ignore[index]
    assert session["attendee"]["email"] == "client@example.com"  # type: ignore[index]
    assert session["links"][0]["external_id"] == "booking-1"  # type: ignore[index]
    for key in (
        "id",
        "title",
        "kind",
        "end_at",
        "timezone",
        "meeting_url",
        "payment_status",
        "version",
        "cancellation",
        "attendance",
        "created_at",
        "updated_at",
    ):
        assert key in session

    found = client.get("/api/sessions?provider=testhook&external_id=booking-1", headers=auth)
    assert [s["id"] for s in found.json["items"]] == [session["id"]]
    none = client.get("/api/sessions?provider=testhook&external_id=other", headers=auth)
    assert none.json["items"] == []
    one = client.get(f"/api/sessions/{session['id']}", headers=auth)
    assert one.json == session


def test_historical_external_id_still_finds_the_session(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    deliver(app)
    deliver(
        app,
        id="evt-2",
        uid="booking-2",
        previous="booking-1",
        at="2030-01-01T10:00:00Z",
        start="2030-01-11T10:00:00Z",
        end="2030-01-11T11:00:00Z",
        event="rescheduled",
    )
    new = client.get("/api/sessions?external_id=booking-2", headers=auth).json["items"]
    old = client.get("/api/sessions?external_id=booking-1", headers=auth).json["items"]
    assert len(new) == len(old) == 1
    assert new[0]["id"] == old[0]["id"]
    assert new[0]["version"] == 2
    assert new[0]["start_at"] == "2030-01-11T10:00:00Z"
    active = {link["external_id"]: link["active"] for link in new[0]["links"]}
    assert active == {"booking-1": False, "booking-2": True}


def test_filters_and_cursor_pagination(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    base = datetime(2030, 2, 1, 9, tzinfo=UTC)
    for i in range(5):
        start = base + timedelta(days=i)
        deliver(
            app,
            id=f"e{i}",
            uid=f"b{i}",
            start=start.isoformat(),
            end=(start + timedelta(hours=1)).isoformat(),
        )
    seen: list[str] = []
    url = "/api/sessions?limit=2"
    while url:
        page = client.get(url, headers=auth).json
        assert len(page["items"]) <= 2
        seen += [s["start_at"] for s in page["items"]]
        url = f"/api/sessions?limit=2&cursor={page['next']}" if page["next"] else ""
    assert seen == sorted(seen)
    assert len(seen) == 5
    window = client.get(
        "/api/sessions?from=2030-02-02T00:00:00Z&to=2030-02-04T00:00:00Z", headers=auth
    ).json["items"]
    assert [s["start_at"][:10] for s in window] == ["2030-02-02", "2030-02-03"]
    assert client.get("/api/sessions?status=cancelled", headers=auth).json["items"] == []
    bad = client.get("/api/sessions?status=nope", headers=auth)
    assert bad.status_code == 400
    assert bad.json["field"] == "status"
    assert client.get("/api/sessions?from=yesterday", headers=auth).json["field"] == "from"
    assert client.get("/api/sessions?cursor=zzz", headers=auth).json["field"] == "cursor"
    assert client.get("/api/sessions?limit=0", headers=auth).json["field"] == "limit"


def test_timeline_oldest_first(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    deliver(app)
    deliver(app, id="evt-2", at="2030-01-02T00:00:00Z", status="cancelled", event="cancelled")
    session = only_session(client, auth)
    events = client.get(f"/api/sessions/{session['id']}/events", headers=auth).json["items"]
    assert [e["kind"] for e in events] == ["updated", "cancelled"]
    assert [e["version"] for e in events] == [1, 2]
    assert events[1]["data"]["changes"]["status"] == {"from": "confirmed", "to": "cancelled"}


def test_invalid_transition_is_409(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    deliver(app)
    sid = only_session(client, auth)["id"]
    assert (
        client.post(f"/api/sessions/{sid}/cancel", json={"reason": "ill"}, headers=auth).status_code
        == 200
    )
    resp = client.post(f"/api/sessions/{sid}/confirm", headers=auth)
    assert resp.status_code == 409
    assert resp.json["error"] == "invalid_transition"
    assert resp.json["current"] == "cancelled"
    session = client.get(f"/api/sessions/{sid}", headers=auth).json
    assert session["cancellation"]["reason"] == "ill"
    assert session["version"] == 2


def test_attendee_cannot_cancel_inside_the_notice(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=2)
    deliver(app, start=soon.isoformat(), end=(soon + timedelta(hours=1)).isoformat())
    sid = only_session(client, auth)["id"]
    resp = client.post(f"/api/sessions/{sid}/cancel", json={"by": "attendee"}, headers=auth)
    assert resp.status_code == 403
    assert resp.json["error"] == "inside_cancellation_notice"
    assert resp.json["deadline"]
    assert (
        client.post(f"/api/sessions/{sid}/cancel", json={"by": "coach"}, headers=auth).json[
            "status"
        ]
        == "cancelled"
    )


def test_outcome(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    deliver(app)
    sid = only_session(client, auth)["id"]
    assert (
        client.post(f"/api/sessions/{sid}/outcome", json={"status": "bogus"}, headers=auth).json[
            "field"
        ]
        == "status"
    )
    done = client.post(f"/api/sessions/{sid}/outcome", json={"status": "no_show"}, headers=auth)
    assert done.json["status"] == "no_show"
    fixed = client.post(f"/api/sessions/{sid}/outcome", json={"status": "completed"}, headers=auth)
    assert fixed.json["status"] == "completed"


def test_coaches_crud(client: FlaskClient, auth: dict[str, str]) -> None:
    made = client.post(
        "/api/coaches",
        json={"email": "Ana@Example.com", "name": "Ana", "timezone": "Europe/Paris"},
        headers=auth,
    )
    assert made.status_code == 201
    coach = made.json
    assert coach["email"] == "ana@example.com"
    assert coach["reminder_offsets_minutes"] == [1440, 60, 15]
    dup = client.post(
        "/api/coaches", json={"email": "ana@example.com", "timezone": "UTC"}, headers=auth
    )
    assert dup.status_code == 409
    assert (
        client.post(
            "/api/coaches", json={"email": "b@x.io", "timezone": "Mars/Base"}, headers=auth
        ).json["field"]
        == "timezone"
    )
    assert (
        client.post("/api/coaches", json={"email": "nope", "timezone": "UTC"}, headers=auth).json[
            "field"
        ]
        == "email"
    )
    assert (
        client.post("/api/coaches", data="[]", headers=auth, content_type="application/json").json[
            "field"
        ]
        == "body"
    )
    found = client.get("/api/coaches?email=ANA@example.com", headers=auth).json["items"]
    assert [c["id"] for c in found] == [coach["id"]]
    patched = client.patch(
        f"/api/coaches/{coach['id']}",
        headers=auth,
        json={
            "buffer_minutes": 15,
            "auto_confirm": False,
            "reminder_offsets_minutes": [15, 1440],
            "timezone": "America/New_York",
        },
    )
    assert patched.status_code == 200
    assert patched.json["buffer_minutes"] == 15
    assert patched.json["reminder_offsets_minutes"] == [1440, 15]
    assert (
        client.patch(f"/api/coaches/{coach['id']}", json={"buffer_minutes": -1}, headers=auth).json[
            "field"
        ]
        == "buffer_minutes"
    )
    assert (
        client.patch(f"/api/coaches/{coach['id']}", json={"colour": "red"}, headers=auth).json[
            "field"
        ]
        == "colour"
    )
    assert client.get(f"/api/coaches/{coach['id']}", headers=auth).json["timezone"] == (
        "America/New_York"
    )
    assert client.get("/api/coaches/not-a-uuid", headers=auth).status_code == 400
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/api/coaches/{missing}", headers=auth).status_code == 404


def test_deliveries_list_and_detail(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    deliver(app)
    listed = client.get("/api/deliveries?provider=testhook&state=processed", headers=auth).json
    [item] = listed["items"]
    assert item["event_type"] == "booking.upsert"
    assert item["dedupe_key"] == "evt-1"
    assert item["session_id"]
    assert client.get(f"/api/deliveries/{item['id']}", headers=auth).json == item
    assert client.get("/api/deliveries?state=odd", headers=auth).status_code == 400
    assert client.get("/api/deliveries/999999", headers=auth).status_code == 404


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    resp = client.get("/nothing-here")
    assert resp.status_code == 404
    assert resp.json["error"] == "not_found"


def test_api_key_names_are_unique(app: Flask) -> None:
    with hub_of(app).db.session() as db:
        create_key(db, "one")
    with pytest.raises(Exception, match="exists already"), hub_of(app).db.session() as db:
        create_key(db, "one")
