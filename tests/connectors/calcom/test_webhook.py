"""Cal.com webhook verification, identity (dedupe keys) and parsing of raw bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import connectors
from connectors.calcom import CalcomConnector
from connectors.calcom.webhook import decode, identify, parse, signature, verify
from connectors.errors import InvalidPayload, InvalidSignature

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "calcom-test-secret"
TRIGGERS = sorted(p.stem for p in FIXTURES.glob("[A-Z]*.json"))


def raw_fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def sign(
    body: bytes, secret: str = SECRET, content_type: str = "application/json"
) -> dict[str, str]:
    """Headers as Cal.com sends them (lower-case names, as the hub hands them over)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": content_type,
        "x-cal-signature-256": digest,
        "x-cal-webhook-version": "2021-10-20",
    }


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    vectors = json.loads((FIXTURES / "signature-test-vectors.json").read_text())["vectors"]
    found: dict[str, Any] = next(v for v in vectors if v["provider"] == "calcom")
    return found


# --- verify -------------------------------------------------------------------------------


def test_golden_vector(golden: dict[str, Any]) -> None:
    body = golden["body"].encode("utf-8")
    expected = "ecc51eecf224ec374b37c82bf7c6beb88555f157ed5cf1424b444d32c704e1ac"
    assert golden["expected_headers"]["X-Cal-Signature-256"] == expected
    assert signature(body, golden["secret"]) == expected
    verify({"x-cal-signature-256": expected}, body, [golden["secret"]])


def test_signer_helper_matches_the_verifier() -> None:
    body = raw_fixture("BOOKING_CREATED")
    verify(sign(body), body, [SECRET])


def test_missing_header() -> None:
    with pytest.raises(InvalidSignature, match="missing X-Cal-Signature-256 header"):
        verify({"content-type": "application/json"}, b"{}", [SECRET])


def test_no_secret_provided_marker_is_refused() -> None:
    with pytest.raises(InvalidSignature, match="no secret configured"):
        verify({"x-cal-signature-256": "no-secret-provided"}, b"{}", [SECRET])


def test_bad_signature() -> None:
    body = raw_fixture("BOOKING_CREATED")
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(sign(body, "another-secret"), body, [SECRET])


def test_tampered_body() -> None:
    body = raw_fixture("BOOKING_CANCELLED")
    headers = sign(body)
    with pytest.raises(InvalidSignature):
        verify(headers, body.replace(b"CANCELLED", b"CREATED"), [SECRET])


def test_rotated_secret_second_of_two_passes() -> None:
    body = raw_fixture("BOOKING_RESCHEDULED")
    verify(sign(body, "new-secret"), body, ["old-secret", "new-secret"])
    verify(sign(body, "old-secret"), body, ["old-secret", "new-secret"])


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_secrets_configured(secrets: list[str]) -> None:
    body = b"{}"
    with pytest.raises(InvalidSignature):
        verify(sign(body), body, secrets)


def test_upper_case_hex_is_accepted() -> None:
    body = raw_fixture("BOOKING_PAID")
    headers = sign(body)
    headers["x-cal-signature-256"] = headers["x-cal-signature-256"].upper()
    verify(headers, body, [SECRET])


def test_prefixed_signature_is_refused() -> None:
    body = raw_fixture("BOOKING_PAID")
    headers = sign(body)
    headers["x-cal-signature-256"] = "sha256=" + headers["x-cal-signature-256"]
    with pytest.raises(InvalidSignature):
        verify(headers, body, [SECRET])


# --- identify -----------------------------------------------------------------------------

EXPECTED_KEYS = {
    "BOOKING_CANCELLED": "BOOKING_CANCELLED:unique-booking-identifier:2024-01-01T15:00:00.000Z",
    "BOOKING_CREATED": "BOOKING_CREATED:unique-booking-id:2024-01-01T00:00:00.000Z",
    "BOOKING_NO_SHOW_UPDATED": (
        "BOOKING_NO_SHOW_UPDATED:5vQFqxDFMjdgKGMijqtqRw:2025-12-01T12:34:34.774Z"
    ),
    "BOOKING_PAID": "BOOKING_PAID:unique-booking-uid:2024-01-01T12:00:00.000Z",
    "BOOKING_REJECTED": "BOOKING_REJECTED:unique-booking-identifier:2024-01-01T14:00:00.000Z",
    "BOOKING_REQUESTED": "BOOKING_REQUESTED:unique-booking-id:2024-01-01T12:00:00.000Z",
    "BOOKING_RESCHEDULED": "BOOKING_RESCHEDULED:new-booking-unique-id:2024-01-01T10:00:00.000Z",
    "MEETING_ENDED": "MEETING_ENDED:unique-booking-identifier:2024-01-01T10:20:00.000Z",
    "MEETING_STARTED": "MEETING_STARTED:unique-booking-identifier:2024-01-01T09:45:00.000Z",
}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_identify_every_fixture(trigger: str) -> None:
    raw = raw_fixture(trigger)
    assert identify(sign(raw), raw) == (trigger, EXPECTED_KEYS[trigger])


def test_every_fixture_has_an_expected_key() -> None:
    assert sorted(EXPECTED_KEYS) == TRIGGERS


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json at all",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'{"triggerEvent": 5}',
        b'{"payload": {"uid": "x"}}',
        b"{" * 5000,
        b"[" * 100_000,
        b"a=1&&=&b",
    ],
)
def test_identify_falls_back_on_garbage_and_never_raises(raw: bytes) -> None:
    event_type, key = CalcomConnector().identify({}, raw)
    assert event_type == "unknown"
    assert key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_identify_keeps_the_trigger_when_the_uid_is_missing() -> None:
    raw = json.dumps({"triggerEvent": "OOO_CREATED", "createdAt": "2024-01-01T00:00:00Z"}).encode()
    event_type, key = identify({}, raw)
    assert event_type == "OOO_CREATED"
    assert key.startswith("sha256:")


# --- form-encoded bodies (non-JSON payload templates) -------------------------------------


def test_form_body_with_a_json_payload_field_is_verified_and_parsed() -> None:
    envelope = json.loads(raw_fixture("BOOKING_CANCELLED"))
    raw = urlencode(
        {
            "triggerEvent": envelope["triggerEvent"],
            "createdAt": envelope["createdAt"],
            "payload": json.dumps(envelope["payload"]),
        }
    ).encode()
    headers = sign(raw, content_type="application/x-www-form-urlencoded")
    verify(headers, raw, [SECRET])

    assert identify(headers, raw) == ("BOOKING_CANCELLED", EXPECTED_KEYS["BOOKING_CANCELLED"])
    event = parse(raw, headers)
    assert event.changes == parse(raw_fixture("BOOKING_CANCELLED"), {}).changes


def test_form_body_holding_a_whole_envelope_in_one_field() -> None:
    raw = urlencode({"body": raw_fixture("BOOKING_CREATED").decode()}).encode()
    assert decode(raw) == json.loads(raw_fixture("BOOKING_CREATED"))


def test_flat_form_fields_are_a_flat_booking() -> None:
    fields = {
        "triggerEvent": "BOOKING_CANCELLED",
        "uid": "form-uid",
        "startTime": "2024-01-04T10:00:00Z",
        "endTime": "2024-01-04T10:30:00Z",
        "createdAt": "2024-01-01T09:00:00Z",
        "updatedAt": "2024-01-02T09:00:00Z",
        "cancellationReason": "sick",
        "iCalSequence": "3",
    }
    raw = urlencode(fields).encode()
    assert identify({}, raw) == (
        "BOOKING_CANCELLED",
        "BOOKING_CANCELLED:form-uid:2024-01-02T09:00:00Z",
    )
    (change,) = parse(raw, {}).changes
    assert change.external_id == "form-uid"
    assert change.status == "cancelled"
    assert change.cancellation_reason == "sick"
    assert change.sequence == 3
    assert change.occurred_at.isoformat() == "2024-01-02T09:00:00+00:00"


# --- parse --------------------------------------------------------------------------------


def _mutated(trigger: str, **payload: Any) -> bytes:
    body = json.loads(raw_fixture(trigger))
    for key, value in payload.items():
        if value is None:
            body["payload"].pop(key, None)
        else:
            body["payload"][key] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json", "neither JSON nor form"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"createdAt": "2024-01-01T00:00:00Z"}', "triggerEvent is missing"),
        (_mutated("BOOKING_CREATED", uid=None), "uid is missing"),
        (_mutated("BOOKING_NO_SHOW_UPDATED", bookingUid=None), "bookingUid is missing"),
        (_mutated("BOOKING_CREATED", endTime="2024-01-01T09:00:00Z"), "before"),
        (_mutated("BOOKING_CREATED", startTime=None), "startTime is missing"),
        (_mutated("BOOKING_CREATED", startTime="tomorrow"), "startTime is not an ISO"),
        (_mutated("BOOKING_CREATED", startTime="2024-01-01T10:00:00"), "no UTC offset"),
        (
            _mutated("BOOKING_CREATED", organizer={"email": "o@x.test", "timeZone": "Mars/Base"}),
            "organizer.timeZone",
        ),
    ],
)
def test_invalid_payloads(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        CalcomConnector().parse(raw, {})


def test_envelope_without_created_at_is_invalid() -> None:
    body = json.loads(raw_fixture("BOOKING_CREATED"))
    del body["createdAt"]
    with pytest.raises(InvalidPayload, match="createdAt"):
        parse(json.dumps(body).encode(), {})


def test_unknown_trigger_parses_to_no_changes() -> None:
    raw = json.dumps({"triggerEvent": "RECORDING_READY", "payload": {"x": 1}}).encode()
    event = parse(raw, {})
    assert event.event_type == "RECORDING_READY"
    assert event.changes == ()


# --- registration -------------------------------------------------------------------------


def test_registered_as_calcom() -> None:
    found = connectors.get("calcom")
    assert isinstance(found, CalcomConnector)
    assert found.slug == "calcom"
    assert found.accepted_status == 200
    assert found.stored_headers == (
        "content-type",
        "x-cal-signature-256",
        "x-cal-webhook-version",
    )
    assert found.handshake({}, {}, b"") is None
