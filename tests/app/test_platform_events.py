"""The platform is told: signed Standard Webhooks events for every change made through the hub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks import Webhook
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.sandbox.server import QuietRequestHandler
from tests.conftest import drain


class Receiver:
    """A platform endpoint that keeps every delivery."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.server = make_server(
            "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=QuietRequestHandler
        )
        self.url = f"http://127.0.0.1:{self.server.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.got.append(({k.lower(): v for k, v in request.headers.items()}, request.get_data()))
        return Response("ok")(environ, start_response)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=10)


def test_booking_reschedule_cancel_reach_the_platform_signed(
    app: Flask, client: FlaskClient, auth: dict[str, str], receiver: Receiver
) -> None:
    endpoint = client.post(
        "/api/webhook-endpoints", headers=auth, json={"url": receiver.url, "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.json
    secret = endpoint.json["secret"]
    coach = client.post(
        "/api/coaches",
        headers=auth,
        json={"email": "c@example.com", "name": "C", "timezone": "Europe/Paris"},
    ).json["id"]
    start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    session = client.post(
        "/api/sessions",
        headers=auth,
        json={
            "coach_id": coach,
            "attendee": {"email": "ann@example.com", "name": "Ann"},
            "kind": "phone",
            "start_at": start.isoformat(),
            "duration_minutes": 30,
            "timezone": "Europe/Paris",
            "title": "Call",
        },
    ).json
    client.patch(
        f"/api/sessions/{session['id']}",
        headers=auth,
        json={"start_at": (start + timedelta(hours=2)).isoformat(), "duration_minutes": 30},
    )
    client.post(f"/api/sessions/{session['id']}/cancel", headers=auth, json={"by": "coach"})
    drain(app)
    verifier = Webhook(secret)
    bodies = [verifier.verify(raw, headers) for headers, raw in receiver.got]
    assert [b["type"] for b in bodies] == [
        "session.created",
        "session.rescheduled",
        "session.cancelled",
    ]
    assert {b["data"]["session_id"] for b in bodies} == {session["id"]}
    assert [b["data"]["version"] for b in bodies] == [1, 2, 3]
    assert all(
        json.loads(raw)["type"] == b["type"]
        for (_, raw), b in zip(receiver.got, bodies, strict=True)
    )
