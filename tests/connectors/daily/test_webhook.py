"""Daily webhook probe, signature verification, identity (dedupe keys) and parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.daily import DailyConnector
from connectors.daily.webhook import identify, is_probe, parse, signature, verify
from connectors.errors import InvalidPayload, InvalidSignature

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = sorted(p.stem for p in FIXTURES.glob("*.*.json"))
SECRET = base64.b64encode(b"hub-daily-webhook-test-key-32byt").decode()
NOW = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def raw_fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def stamp(when: datetime = NOW) -> str:
    return str(int(when.timestamp() * 1000))


def sign(body: bytes, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    """Headers as Daily sends them (lower-case names, as the hub hands them over)."""
    ts = timestamp if timestamp is not None else stamp()
    key = base64.b64decode(secret)
    digest = hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).digest()
    return {
        "content-type": "application/json",
        "x-webhook-timestamp": ts,
        "x-webhook-signature": base64.b64encode(digest).decode(),
    }


def at(when: datetime = NOW) -> DailyConnector:
    return DailyConnector(now=lambda: when)


@pytest.fixture(scope="module")
def golden() -> list[dict[str, Any]]:
    vectors = json.loads((FIXTURES / "signature-test-vectors.json").read_text())["vectors"]
    return [v for v in vectors if v["provider"] == "daily"]


# --- the creation probe -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"test":"test"}', b'{ "test" : "test" }\n', b'\n{"test":\t"test"}  ']
)
def test_probe_is_answered_at_once_without_any_secret(raw: bytes) -> None:
    reply = DailyConnector().handshake({}, {}, raw)
    assert reply is not None
    assert (reply.status, reply.body, reply.content_type) == (
        200,
        '{"status":"ok"}',
        "application/json",
    )


def test_captured_probe_is_answered() -> None:
    ping = json.loads(raw_fixture("webhook-verification-ping"))
    headers = {k.lower(): v for k, v in ping["headers"].items()}
    reply = DailyConnector().handshake({}, headers, ping["body"].encode())
    assert reply is not None
    assert reply.status == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"test",
        b'{"test":"other"}',
        b'{"test":"test","type":"meeting.started"}',
        b'["test"]',
        b'{"test":"test"' + b" " * 100 + b"}",
        b"\xff\xfe",
    ],
)
def test_anything_else_goes_on_to_verification(raw: bytes) -> None:
    assert DailyConnector().handshake({}, {}, raw) is None
    assert not is_probe(raw)


@pytest.mark.parametrize("name", EVENTS)
def test_events_are_not_probes(name: str) -> None:
    assert DailyConnector().handshake({}, sign(raw_fixture(name)), raw_fixture(name)) is None


# --- verify -------------------------------------------------------------------------------


def test_golden_vectors(golden: list[dict[str, Any]]) -> None:
    assert len(golden) == 2  # the computed meeting.ended vector and the real captured probe
    for vector in golden:
        body = vector["body"].encode("utf-8")
        ts = vector["timestamp"]
        expected = vector["expected_headers"]["X-Webhook-Signature"]
        assert signature(ts, body, vector["secret"]) == expected
        pinned = datetime.fromtimestamp(int(ts) / 1000, UTC)
        headers = {"x-webhook-timestamp": ts, "x-webhook-signature": expected}
        at(pinned).verify(headers, body, [vector["secret"]])


def test_golden_meeting_ended_body_is_the_fixture(golden: list[dict[str, Any]]) -> None:
    body = json.loads(golden[0]["body"])
    assert body == json.loads(raw_fixture("meeting.ended"))


def test_secret_as_raw_utf8_does_not_verify(golden: list[dict[str, Any]]) -> None:
    probe = golden[1]
    body, ts = probe["body"].encode(), probe["timestamp"]
    wrong = hmac.new(probe["secret"].encode(), ts.encode() + b"." + body, hashlib.sha256)
    headers = {
        "x-webhook-timestamp": ts,
        "x-webhook-signature": base64.b64encode(wrong.digest()).decode(),
    }
    pinned = datetime.fromtimestamp(int(ts) / 1000, UTC)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(headers, body, [probe["secret"]], lambda: pinned)


def test_signer_helper_matches_the_verifier() -> None:
    body = raw_fixture("participant.joined")
    at().verify(sign(body), body, [SECRET])


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        ("x-webhook-timestamp", "missing X-Webhook-Timestamp header"),
        ("x-webhook-signature", "missing X-Webhook-Signature header"),
    ],
)
def test_missing_header(drop: str, reason: str) -> None:
    body = raw_fixture("meeting.started")
    headers = sign(body)
    del headers[drop]
    with pytest.raises(InvalidSignature, match=reason):
        at().verify(headers, body, [SECRET])


def test_empty_header_counts_as_missing() -> None:
    body = raw_fixture("meeting.started")
    headers = {**sign(body), "x-webhook-signature": "  "}
    with pytest.raises(InvalidSignature, match="missing X-Webhook-Signature"):
        at().verify(headers, body, [SECRET])


def test_bad_signature() -> None:
    body = raw_fixture("meeting.started")
    other = base64.b64encode(b"another-key-another-key-another!").decode()
    with pytest.raises(InvalidSignature, match="does not match"):
        at().verify(sign(body, other), body, [SECRET])


def test_tampered_body() -> None:
    body = raw_fixture("meeting.ended")
    headers = sign(body)
    with pytest.raises(InvalidSignature, match="does not match"):
        at().verify(headers, body.replace(b"1767264300", b"1767268000"), [SECRET])


def test_signature_covers_the_timestamp() -> None:
    body = raw_fixture("meeting.ended")
    headers = {**sign(body), "x-webhook-timestamp": stamp(NOW + timedelta(seconds=1))}
    with pytest.raises(InvalidSignature, match="does not match"):
        at().verify(headers, body, [SECRET])


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), timedelta(hours=3)])
def test_stale_timestamp(skew: timedelta) -> None:
    body = raw_fixture("participant.left")
    with pytest.raises(InvalidSignature, match="timestamp outside the 5-minute tolerance"):
        at().verify(sign(body, timestamp=stamp(NOW - skew)), body, [SECRET])


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), timedelta(days=1)])
def test_future_timestamp(skew: timedelta) -> None:
    body = raw_fixture("participant.left")
    with pytest.raises(InvalidSignature, match="timestamp outside the 5-minute tolerance"):
        at().verify(sign(body, timestamp=stamp(NOW + skew)), body, [SECRET])


@pytest.mark.parametrize("skew", [timedelta(minutes=-5), timedelta(0), timedelta(minutes=5)])
def test_timestamps_inside_the_window_pass(skew: timedelta) -> None:
    body = raw_fixture("participant.left")
    at().verify(sign(body, timestamp=stamp(NOW + skew)), body, [SECRET])


def test_ten_digit_seconds_timestamp_is_accepted() -> None:
    body = raw_fixture("meeting.started")
    seconds = str(int(NOW.timestamp()))
    at().verify(sign(body, timestamp=seconds), body, [SECRET])
    with pytest.raises(InvalidSignature, match="tolerance"):
        at(NOW + timedelta(minutes=6)).verify(sign(body, timestamp=seconds), body, [SECRET])


@pytest.mark.parametrize("value", ["soon", "17672616015", "1767261601.512", "-1767261601512"])
def test_malformed_timestamp(value: str) -> None:
    body = raw_fixture("meeting.started")
    with pytest.raises(InvalidSignature, match="not a Unix timestamp"):
        at().verify(sign(body, timestamp=value), body, [SECRET])


def test_rotated_secret_either_of_two_passes() -> None:
    body = raw_fixture("recording.ready-to-download")
    old = base64.b64encode(b"the-old-secret-key-bytes-32-long").decode()
    at().verify(sign(body, SECRET), body, [old, SECRET])
    at().verify(sign(body, old), body, [old, SECRET])


@pytest.mark.parametrize("bad", ["not base64!", "abc$def", "===="])
def test_secret_that_is_not_base64(bad: str) -> None:
    body = raw_fixture("meeting.started")
    with pytest.raises(InvalidSignature, match="webhook secret is not base64"):
        at().verify(sign(body), body, [bad])


def test_a_bad_secret_beside_a_good_one_does_not_block_deliveries() -> None:
    body = raw_fixture("meeting.started")
    at().verify(sign(body), body, ["not base64!", SECRET])
    other = base64.b64encode(b"another-key-another-key-another!").decode()
    with pytest.raises(InvalidSignature, match=r"does not match \(a webhook secret is not base64"):
        at().verify(sign(body, other), body, ["not base64!", SECRET])


def test_secret_without_padding_is_accepted() -> None:
    body = raw_fixture("meeting.started")
    at().verify(sign(body), body, [SECRET.rstrip("=")])


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_secrets_configured(secrets: list[str]) -> None:
    body = raw_fixture("meeting.started")
    with pytest.raises(InvalidSignature, match="no webhook secret"):
        at().verify(sign(body), body, secrets)


def test_default_clock_is_now() -> None:
    body = raw_fixture("meeting.started")
    now = datetime.now(UTC)
    DailyConnector().verify(sign(body, timestamp=stamp(now)), body, [SECRET])
    with pytest.raises(InvalidSignature, match="tolerance"):
        DailyConnector().verify(sign(body), body, [SECRET])  # NOW is long past


# --- identify -----------------------------------------------------------------------------

EXPECTED_KEYS = {
    "meeting.ended": "id:met-end-8e4f3c2b-1d5a-4f9e-8c7b-2a3b4c5d6e7f",
    "meeting.started": "id:met-sta-7d3e2b1a-0c4f-4e8d-9b6a-1f2e3d4c5b6a",
    "participant.joined": "id:ptcpt-join-6c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "participant.left": "id:ptcpt-left-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "recording.ready-to-download": "id:rec-rtd-2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
}


@pytest.mark.parametrize("name", EVENTS)
def test_identify_every_fixture(name: str) -> None:
    raw = raw_fixture(name)
    assert DailyConnector().identify(sign(raw), raw) == (name, EXPECTED_KEYS[name])


def test_every_event_fixture_has_an_expected_key() -> None:
    assert sorted(EXPECTED_KEYS) == EVENTS


def test_identify_the_probe_body() -> None:
    raw = json.loads(raw_fixture("webhook-verification-ping"))["body"].encode()
    assert identify({}, raw) == ("unknown", "sha256:" + hashlib.sha256(raw).hexdigest())


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json at all",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'{"type": 5}',
        b'{"id": ["x"]}',
        b'{"id": true}',
        b"{" * 5000,
        b"[" * 100_000,
    ],
)
def test_identify_falls_back_on_garbage_and_never_raises(raw: bytes) -> None:
    event_type, key = DailyConnector().identify({}, raw)
    assert event_type == "unknown"
    assert key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_identify_keeps_the_type_when_the_id_is_missing() -> None:
    raw = b'{"type": "meeting.started", "payload": {}}'
    event_type, key = identify({}, raw)
    assert event_type == "meeting.started"
    assert key.startswith("sha256:")


def test_identify_accepts_a_numeric_id() -> None:
    assert identify({}, b'{"type": "x.y", "id": 42}') == ("x.y", "id:42")


def test_identify_keeps_the_id_when_the_type_is_bad() -> None:
    assert identify({}, b'{"type": 5, "id": "x"}') == ("unknown", "id:x")


# --- parse --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENTS)
def test_parse_every_fixture(name: str) -> None:
    event = DailyConnector().parse(raw_fixture(name), {})
    assert event.event_type == name
    assert len(event.changes) == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "x", "payload": {}}', "type is missing"),
        (b'{"test":"test"}', "type is missing"),
        (b'{"type": "meeting.started", "id": "x"}', "payload is missing"),
    ],
)
def test_invalid_payloads(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        DailyConnector().parse(raw, {})


def test_unhandled_type_parses_to_no_changes() -> None:
    raw = b'{"type": "waiting-participant.joined", "id": "w1", "payload": {"room": "r"}}'
    event = parse(raw, {})
    assert event.event_type == "waiting-participant.joined"
    assert event.changes == ()


# --- registration -------------------------------------------------------------------------


def test_registered_as_daily() -> None:
    found = connectors.get("daily")
    assert isinstance(found, DailyConnector)
    assert found.slug == "daily"
    assert found.accepted_status == 200
    assert found.needs_secret is True
    assert found.stored_headers == (
        "content-type",
        "x-webhook-timestamp",
        "x-webhook-signature",
    )
