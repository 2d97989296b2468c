"""Reminders with a controllable clock and a real local SMTP server."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from app.models import Reminder, SessionEvent
from jobs.reminders import send_due_reminders, send_reminder
from tests.conftest import AppFactory, hub_of
from tests.e2e.test_serve import free_port


class Inbox:
    """An SMTP handler that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


@pytest.fixture
def app(make_app: AppFactory, db_url: str, smtp: tuple[str, Inbox]) -> Flask:
    return make_app(db_url, smtp_url=smtp[0])


def book(client: FlaskClient, auth: dict[str, str], start: datetime) -> dict[str, Any]:
    coach = client.post(
        "/api/coaches",
        json={"email": "c@example.com", "name": "Coach", "timezone": "Europe/Paris"},
        headers=auth,
    )
    cid = (
        coach.json["id"]
        if coach.status_code == 201
        else client.get("/api/coaches?email=c@example.com", headers=auth).json["items"][0]["id"]
    )
    resp = client.post(
        "/api/sessions",
        headers=auth,
        json={
            "coach_id": cid,
            "attendee": {"email": "ann@example.com", "name": "Ann"},
            "kind": "video",
            "start_at": start.isoformat(),
            "duration_minutes": 60,
            "timezone": "Europe/Paris",
            "title": "Coaching",
        },
    )
    assert resp.status_code == 201, resp.json
    session: dict[str, Any] = resp.json
    return session


def reminders(app: Flask, session_id: str) -> list[Reminder]:
    with hub_of(app).db.session() as db:
        return sorted(db.exec(select(Reminder)), key=lambda r: (r.offset_minutes, r.recipient))


def soon(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def test_three_offsets_for_both_and_sent_once(
    app: Flask, client: FlaskClient, auth: dict[str, str], smtp: tuple[str, Inbox]
) -> None:
    start = soon(days=2)
    session = book(client, auth, start)
    rows = reminders(app, session["id"])
    assert sorted({r.offset_minutes for r in rows}) == [15, 60, 1440]
    assert len(rows) == 6
    first = next(r for r in rows if r.offset_minutes == 1440 and r.recipient == "attendee")
    with app.app_context():
        assert send_reminder(first.id or 0, now=first.due_at - timedelta(hours=1)) == "not_due"
        assert send_reminder(first.id or 0, now=first.due_at) == "sent"
        assert send_reminder(first.id or 0, now=first.due_at) == "skipped"  # never twice
    [mail] = smtp[1].messages
    assert mail["To"] == "ann@example.com"
    assert mail["Subject"].startswith("Reminder: Coaching")
    parts = {p.get_content_type(): p for p in mail.walk()}
    assert "text/calendar" in parts
    with hub_of(app).db.session() as db:
        kinds = [e.kind for e in db.exec(select(SessionEvent))]
    assert kinds.count("reminder_sent") == 1


def test_booked_inside_an_hour_gets_only_the_15_minute_one(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    book(client, auth, soon(minutes=40))
    assert {r.offset_minutes for r in reminders(app, "")} == {15}


def test_reschedule_moves_them_and_cancel_stops_them(
    app: Flask, client: FlaskClient, auth: dict[str, str], smtp: tuple[str, Inbox]
) -> None:
    session = book(client, auth, soon(days=2))
    new_start = soon(days=3)
    client.patch(
        f"/api/sessions/{session['id']}",
        headers=auth,
        json={"start_at": new_start.isoformat(), "duration_minutes": 60},
    )
    rows = reminders(app, session["id"])
    assert {r.due_at for r in rows if r.offset_minutes == 60} == {new_start - timedelta(minutes=60)}
    client.post(f"/api/sessions/{session['id']}/cancel", json={"by": "coach"}, headers=auth)
    assert all(r.cancelled_at is not None for r in reminders(app, session["id"]))
    with app.app_context():
        assert send_due_reminders(now=new_start + timedelta(days=1)) == 0
        for r in reminders(app, session["id"]):
            assert send_reminder(r.id or 0, now=new_start) == "skipped"
    assert smtp[1].messages == []


def test_only_reminders_due_soon_get_a_job_the_sweep_queues_the_rest_on_time(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    from app.queue import InProcessQueue
    from jobs.reminders import LOOKAHEAD

    queue = hub_of(app).queue
    assert isinstance(queue, InProcessQueue)

    def reminder_jobs() -> list[str]:
        return sorted(item.key for item in queue._heap if item.key.startswith("reminder:"))  # noqa: SLF001

    session = book(client, auth, soon(days=2))
    assert reminder_jobs() == []  # nothing due within minutes: no job sits for two days
    rows = reminders(app, session["id"])
    day_before = [r for r in rows if r.offset_minutes == 1440]
    with app.app_context():
        assert send_due_reminders(now=day_before[0].due_at - LOOKAHEAD - timedelta(minutes=1)) == 0
        assert send_due_reminders(now=day_before[0].due_at - timedelta(minutes=2)) == 2
        assert send_due_reminders(now=day_before[0].due_at - timedelta(minutes=1)) == 0  # queued
    assert reminder_jobs() == sorted(
        f"reminder:{r.id}:{int(r.due_at.timestamp())}" for r in day_before
    )
