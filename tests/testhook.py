"""A test-only connector: proves the inbox pipeline without any real provider's quirks.

Body: {"id": "evt-1", "type": "booking.upsert", "uid": "b1", "at": ISO, "status": …,
       "start": ISO, "end": ISO, "coach": email, "attendee": email}
Signature: X-Test-Signature = hex HMAC-SHA256(secret, body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import connectors
from connectors.base import Change, Connector, Headers, InboundEvent, Person, body_digest
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.signing import match_any


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Headers for a signed test delivery."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Test-Signature": mac, "Content-Type": "application/json"}


def event(**fields: Any) -> bytes:
    """A test delivery body."""
    base: dict[str, Any] = {
        "id": "evt-1",
        "type": "booking.upsert",
        "uid": "booking-1",
        "at": "2030-01-01T09:00:00Z",
        "status": "confirmed",
        "start": "2030-01-10T10:00:00Z",
        "end": "2030-01-10T11:00:00Z",
        "coach": "coach@example.com",
        "attendee": "client@example.com",
    }
    base.update(fields)
    return json.dumps(base).encode()


class TestHook(Connector):
    __test__ = False

    """The connector behind /webhooks/testhook."""

    slug = "testhook"
    stored_headers = ("content-type", "x-test-signature")

    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        if "x-test-signature" not in headers:
            raise InvalidSignature("missing X-Test-Signature header")
        match_any(
            [headers["x-test-signature"]],
            secrets,
            lambda s: hmac.new(s.encode(), raw, hashlib.sha256).hexdigest(),
        )

    def identify(self, headers: Headers, raw: bytes) -> tuple[str, str]:
        try:
            data = json.loads(raw)
            return str(data["type"]), str(data["id"])
        except (ValueError, KeyError, TypeError):
            return "unknown", "sha256:" + body_digest(raw)

    def parse(self, raw: bytes, headers: Mapping[str, str]) -> InboundEvent:
        try:
            data = json.loads(raw)
            kind = data["type"]
            if kind == "ignored.kind":
                return InboundEvent(kind)
            at = datetime.fromisoformat(data["at"])
            change = Change(
                source="testhook",
                external_id=data["uid"],
                event=data.get("event", "updated"),
                occurred_at=at,
                create=True,
                previous_external_id=data.get("previous"),
                status=data.get("status"),
                start_at=datetime.fromisoformat(data["start"]),
                end_at=datetime.fromisoformat(data["end"]),
                coach=Person(email=data["coach"], name="Coach", timezone="Europe/Paris"),
                attendee=Person(email=data["attendee"], name="Client"),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidPayload(f"test payload not understood: {err}") from err
        return InboundEvent(kind, (change,))


@contextmanager
def registered() -> Iterator[TestHook]:
    """Register the test connector for the duration of a test."""
    hook = TestHook()
    connectors.register(hook)
    try:
        yield hook
    finally:
        connectors.REGISTRY.pop("testhook", None)
