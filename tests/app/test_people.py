"""Personal data: export and erasure by e-mail, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from app.models import (
    Coach,
    ErasureLog,
    OutboundMessage,
    ProviderLink,
    Reminder,
    Session,
    SessionEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.outbox import emit, new_secret
from app.people import subject_hash
from tests.conftest import drain, hub_of
from tests.testhook import TestHook, event, registered, sign

PERSON = "Jane.Doe@Example.com"
OTHER = "someone.else@example.com"


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def post(client: FlaskClient, body: bytes) -> dict[str, object]:
    resp = client.post("/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new"))
    assert resp.status_code == 200, resp.json
    answer: dict[str, object] = resp.json
    return answer


def person_session(app: Flask) -> Session:
    with hub_of(app).db.session() as db:
        link = db.exec(select(ProviderLink).where(ProviderLink.external_id == "b-jane")).one()
        found = db.get(Session, link.session_id)
        assert found is not None
        return found


@pytest.fixture
def held(app: Flask, client: FlaskClient) -> dict[str, object]:
    """Jane's booking (with a timeline, a reminder and an outbound event), Jane mentioned in an
    ignored delivery, Jane as a guest of someone else's session, and that someone's booking."""
    mine = event(id="e1", uid="b-jane", attendee=PERSON)
    post(client, mine)
    post(
        client,
        event(
            id="e2",
            uid="b-other",
            attendee=OTHER,
            start="2030-01-11T10:00:00Z",
            end="2030-01-11T11:00:00Z",
        ),
    )
    post(client, json.dumps({"id": "e3", "type": "ignored.kind", "who": PERSON.upper()}).encode())
    post(client, json.dumps({"id": "e4", "type": "ignored.kind", "who": OTHER}).encode())
    drain(app)
    h = hub_of(app)
    with h.db.session() as db:
        jane = db.exec(select(Session).where(Session.attendee_email == PERSON.lower())).one()
        other = db.exec(select(Session).where(Session.attendee_email == OTHER)).one()
        jane.attendee_client_ref = "client-42"
        jane.notes, jane.reason = "knee surgery last week", "career change"
        jane.title = "Intro call with Client"
        jane.payment_status, jane.payment_amount, jane.payment_currency = "paid", 9000, "eur"
        jane.guests = [{"email": "friend@example.com", "name": "Friend"}]
        other.guests = [{"email": PERSON.lower(), "name": "Jane"}]
        db.add_all([jane, other])
        db.add(
            SessionEvent(
                session_id=jane.id,
                kind="participant_joined",
                source="daily",
                actor=PERSON.lower(),
                data={
                    "detail": {
                        "user_name": "Client",
                        "role": "attendee",
                        "attendees": [{"email": PERSON, "noShow": False}],
                    }
                },
            )
        )
        endpoint = WebhookEndpoint(
            url="https://platform.example/hooks",
            events=["*"],
            secret_encrypted=h.crypto.encrypt(new_secret()),
        )
        db.add(endpoint)
        db.flush()
        emit(
            db,
            "session.created",
            {"session_id": str(jane.id), "attendee_email": PERSON.lower(), "status": "confirmed"},
        )
        emit(db, "session.created", {"session_id": str(other.id), "attendee_email": OTHER})
    return {"jane": jane.id, "other": other.id, "body": mine}


def test_export_holds_everything_about_the_person_and_nothing_else(
    app: Flask, client: FlaskClient, auth: dict[str, str], held: dict[str, object]
) -> None:
    resp = client.get("/api/people", query_string={"email": " JANE.doe@example.COM "}, headers=auth)
    assert resp.status_code == 200, resp.json
    out = resp.json
    assert out["email"] == PERSON.lower()
    [session] = out["sessions"]
    assert session["id"] == str(held["jane"])
    assert session["attendee"]["client_ref"] == "client-42"
    assert session["notes"] == "knee surgery last week"
    kinds = [e["kind"] for e in session["events"]]
    assert "participant_joined" in kinds
    assert len(kinds) >= 2  # the ingest's own event and the join
    [guest] = out["guest_sessions"]
    assert guest["id"] == str(held["other"])
    assert guest["guest"]["email"] == PERSON.lower()
    assert "attendee" not in guest  # the other attendee's data is theirs
    bodies = sorted(d["body"] for d in out["deliveries"])
    assert len(bodies) == 2  # the linked booking and the ignored delivery naming her
    assert all(PERSON.lower() in b.lower() for b in bodies)
    assert all(OTHER not in b for b in bodies)
    assert {d["event_type"] for d in out["deliveries"]} == {"booking.upsert", "ignored.kind"}
    [message] = out["outbound_messages"]
    assert message["payload"]["data"]["attendee_email"] == PERSON.lower()
    assert "Cal.com" in out["note"]

    nobody = client.get("/api/people?email=nobody@example.com", headers=auth)
    assert nobody.status_code == 200
    assert nobody.json["sessions"] == []
    assert nobody.json["deliveries"] == []
    assert nobody.json["outbound_messages"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "email"),
        ({"email": "   "}, "email"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": "a@b.c", "mail": "x"}, "mail"),
        ({"email": "a b@c.d"}, "email"),
    ],
)
def test_export_validation_names_the_field(
    client: FlaskClient, auth: dict[str, str], query: dict[str, str], field: str
) -> None:
    resp = client.get("/api/people", query_string=query, headers=auth)
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid"
    assert resp.json["field"] == field


def test_people_routes_need_the_api_key(client: FlaskClient) -> None:
    assert client.get("/api/people?email=a@b.c").status_code == 401
    assert client.post("/api/people/erase", json={"email": "a@b.c"}).status_code == 401


def test_erase_validation(client: FlaskClient, auth: dict[str, str]) -> None:
    for payload, field in (
        ([], "body"),
        ({}, "email"),
        ({"email": 3}, "email"),
        ({"email": "a@b.c", "dry_run": True}, "dry_run"),
    ):
        resp = client.post("/api/people/erase", json=payload, headers=auth)
        assert resp.status_code == 400, payload
        assert resp.json["field"] == field


def _everything(app: Flask) -> str:
    """Every row of every table, as text."""
    out = []
    with hub_of(app).db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa_select(table)):
                out.append(repr(tuple(row)))
    return "\n".join(out).lower()


def test_erase_scrubs_the_person_keeps_the_facts_and_is_idempotent(
    app: Flask, client: FlaskClient, auth: dict[str, str], held: dict[str, object]
) -> None:
    before = person_session(app)
    resp = client.post("/api/people/erase", json={"email": PERSON}, headers=auth)
    assert resp.status_code == 200, resp.json
    counts = resp.json["erased"]
    assert counts["sessions"] == 1
    assert counts["events"] >= 1
    assert counts["guest_sessions"] == 1
    assert counts["deliveries"] == 2
    assert counts["outbound_messages"] == 1
    assert counts["reminders_cancelled"] >= 1
    assert resp.json["previous_erasures"] == 0
    assert "Cal.com" in resp.json["note"]

    everything = _everything(app)
    assert PERSON.lower() not in everything
    assert "knee surgery" not in everything
    assert "client-42" not in everything
    assert "friend@example.com" not in everything  # the guests Jane brought
    assert OTHER in everything  # somebody else's data stays

    h = hub_of(app)
    tomb = "erased:" + subject_hash(h.settings.secret_key, PERSON)[:12]
    assert resp.json["subject"] == tomb
    after = person_session(app)
    assert after.attendee_email == ""
    assert after.attendee_name == tomb
    assert after.attendee_client_ref is None
    assert (after.notes, after.reason, after.guests) == (None, None, [])
    assert after.title == f"Intro call with {tomb}"
    # the coach's history: the facts stay, and no new version is pushed to any provider
    for name in (
        "start_at",
        "end_at",
        "status",
        "coach_id",
        "kind",
        "payment_status",
        "payment_amount",
        "payment_currency",
        "version",
        "meeting_url",
    ):
        assert getattr(after, name) == getattr(before, name), name
    with h.db.session() as db:
        assert db.exec(select(ProviderLink).where(ProviderLink.session_id == after.id)).one()
        events = list(db.exec(select(SessionEvent).where(SessionEvent.session_id == after.id)))
        joined = next(e for e in events if e.kind == "participant_joined")
        assert joined.actor == tomb
        assert joined.data["detail"]["role"] == "attendee"
        assert joined.data["detail"]["attendees"][0]["noShow"] is False
        assert any(e.kind == "personal_data_erased" for e in events)
        reminders = list(db.exec(select(Reminder).where(Reminder.session_id == after.id)))
        for_her = [r for r in reminders if r.recipient == "attendee"]
        assert for_her
        assert all(r.cancelled_at is not None for r in for_her)
        assert all(r.cancelled_at is None for r in reminders if r.recipient == "coach")
        other = db.get(Session, held["other"])
        assert other is not None
        assert other.guests == []
        assert other.attendee_email == OTHER
        rows = list(db.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))
        erased = [r for r in rows if r.body.startswith(b'{"erased":true')]
        assert len(erased) == 2
        for row in erased:
            assert row.dedupe_key in ("e1", "e3")  # the row and its dedupe key stay
            assert row.state in ("processed", "ignored")
            assert not any("signature" in k for k in row.headers)
        messages = list(db.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))
        assert messages[0].payload["data"]["attendee_email"] == tomb
        assert messages[0].payload["data"]["status"] == "confirmed"
        assert messages[1].payload["data"]["attendee_email"] == OTHER
        [audit] = db.exec(select(ErasureLog))
        assert audit.actor == "test-platform"
        assert audit.subject_hash == subject_hash(h.settings.secret_key, PERSON.lower())
        assert audit.counts == counts

    # the same booking delivered again is still a duplicate
    again = post(client, held["body"])  # type: ignore[arg-type]
    assert again["status"] == "duplicate"
    # replaying an erased delivery parses nothing and changes nothing
    assert client.post(f"/api/deliveries/{erased[0].id}/replay", headers=auth).status_code == 202
    drain(app)
    with h.db.session() as db:
        assert db.get(WebhookDelivery, erased[0].id).state == erased[0].state  # type: ignore[union-attr]

    export = client.get("/api/people", query_string={"email": PERSON}, headers=auth).json
    assert export["sessions"] == export["deliveries"] == export["outbound_messages"] == []
    assert export["guest_sessions"] == []
    second = client.post("/api/people/erase", json={"email": PERSON.upper()}, headers=auth)
    assert second.status_code == 200
    assert set(second.json["erased"].values()) == {0}
    assert second.json["previous_erasures"] == 1
    with h.db.session() as db:
        assert len(list(db.exec(select(ErasureLog)))) == 2
        coach = db.exec(select(Coach)).first()
        assert coach is not None
        assert coach.email == "coach@example.com"
