"""Building signed Cal.com deliveries from the recorded payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from connectors.calcom.webhook import signature

FIXTURES = Path(__file__).resolve().parent.parent / "connectors" / "calcom" / "fixtures"
SECRET = "calcom-flow-secret"


def fixture(trigger: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{trigger}.json").read_text())
    return data


def booking(
    trigger: str,
    uid: str,
    created_at: str,
    start: str = "2030-03-01T10:00:00Z",
    end: str = "2030-03-01T11:00:00Z",
    **payload: Any,
) -> dict[str, Any]:
    """A booking delivery shaped like the recorded example of its trigger."""
    name = trigger if (FIXTURES / f"{trigger}.json").exists() else "BOOKING_CREATED"
    body = copy.deepcopy(fixture(name))
    body["triggerEvent"] = trigger
    body["createdAt"] = created_at
    p = body["payload"]
    p.update({"uid": uid, "startTime": start, "endTime": end})
    p.pop("rescheduleUid", None)
    p.update(payload)
    return body


def send(client: FlaskClient, body: dict[str, Any] | bytes, *, form: bool = False) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "X-Cal-Signature-256": signature(raw, SECRET),
        "X-Cal-Webhook-Version": "2021-10-20",
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
    }
    return client.post("/webhooks/calcom", data=raw, headers=headers)


def calcom_app(make_app: Any, db_url: str, redis_url: str | None = None, **extra: Any) -> Flask:
    app: Flask = make_app(db_url, redis_url, webhook_secrets={"calcom": (SECRET,)}, **extra)
    return app
