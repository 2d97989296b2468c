"""Stripe webhook signature verification, identity (dedupe keys) and parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe

import connectors
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.stripe import StripeConnector
from connectors.stripe.webhook import identify, parse, parse_header, verify

FIXTURES = Path(__file__).parent / "fixtures"
EVENTS = sorted(p.stem for p in FIXTURES.glob("*.*.json"))
SECRET = "whsec_hub_stripe_test_secret"
OLD_SECRET = "whsec_hub_stripe_old_secret"
T = 1767261600
NOW = datetime.fromtimestamp(T, UTC)


def raw_fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def v1(body: bytes, secret: str = SECRET, timestamp: int | str = T) -> str:
    """hex HMAC-SHA256(key=the whole whsec_ string, msg=f"{t}.{body}"), as Stripe signs."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(body: bytes, *secrets: str, timestamp: int | str = T, extra: str = "") -> dict[str, str]:
    """Headers as Stripe sends them (lower-case names): one v1 per secret, in order."""
    parts = [f"t={timestamp}"] + [f"v1={v1(body, s, timestamp)}" for s in secrets or (SECRET,)]
    header = ",".join(parts) + extra
    return {"content-type": "application/json; charset=utf-8", "stripe-signature": header}


def at(when: datetime = NOW) -> StripeConnector:
    return StripeConnector(now=lambda: when)


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    vectors = json.loads((FIXTURES / "signature-test-vectors.json").read_text())["vectors"]
    (vector,) = [v for v in vectors if v["provider"] == "stripe"]
    return dict(vector)


# --- verify -------------------------------------------------------------------------------


def test_golden_vector(golden: dict[str, Any]) -> None:
    body = golden["body"].encode("utf-8")
    header = golden["expected_headers"]["Stripe-Signature"]
    assert header == f"t=1700000000,v1={v1(body, 'whsec_test_secret', 1700000000)}"
    pinned = datetime.fromtimestamp(golden["timestamp"], UTC)
    at(pinned).verify({"stripe-signature": header}, body, [golden["secret"]])


def test_golden_vector_is_stale_for_the_real_clock(golden: dict[str, Any]) -> None:
    body = golden["body"].encode("utf-8")
    header = {"stripe-signature": golden["expected_headers"]["Stripe-Signature"]}
    with pytest.raises(InvalidSignature, match="older than the 300 s tolerance"):
        StripeConnector().verify(header, body, [golden["secret"]])


def test_signer_helper_matches_stripe_python() -> None:
    body = raw_fixture("checkout.session.completed")
    ours = sign(body)["stripe-signature"]
    theirs = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, T)
    assert ours == theirs
    at().verify(sign(body), body, [SECRET])


@pytest.mark.parametrize("name", EVENTS)
def test_every_fixture_verifies(name: str) -> None:
    body = raw_fixture(name)
    at().verify(sign(body), body, [SECRET])


def test_missing_header() -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match="missing Stripe-Signature header"):
        at().verify({"content-type": "application/json"}, body, [SECRET])


def test_empty_header_counts_as_missing() -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match="missing Stripe-Signature header"):
        at().verify({"stripe-signature": "  "}, body, [SECRET])


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("garbage", "malformed Stripe-Signature header"),
        (f"t={T},v1", "malformed Stripe-Signature header"),
        ("v1=abc", "no valid t= timestamp"),
        ("t=,v1=abc", "no valid t= timestamp"),
        ("t=soon,v1=abc", "no valid t= timestamp"),
        ("t=-17,v1=abc", "no valid t= timestamp"),
        (f"t={T}.5,v1=abc", "no valid t= timestamp"),
        (f"t={T},t={T + 1},v1=abc", "no valid t= timestamp"),
        ("t=99999999999999999999,v1=abc", "no valid t= timestamp"),
        (f"t={T}", "no v1 signature"),
        (f"t={T},v1=", "no v1 signature"),
        (f"t={T},V1=abc", "no v1 signature"),
    ],
)
def test_malformed_header(header: str, reason: str) -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match=reason):
        at().verify({"stripe-signature": header}, body, [SECRET])


def test_wrong_scheme_only_is_rejected() -> None:
    body = raw_fixture("charge.refunded")
    good = v1(body)
    with pytest.raises(InvalidSignature, match="no v1 signature"):
        at().verify({"stripe-signature": f"t={T},v0={good}"}, body, [SECRET])


def test_other_schemes_beside_v1_are_ignored() -> None:
    body = raw_fixture("charge.refunded")
    at().verify(sign(body, extra=f",v0={'0' * 64}"), body, [SECRET])


def test_bad_signature() -> None:
    body = raw_fixture("charge.refunded")
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at().verify(sign(body, "whsec_someone_else"), body, [SECRET])


def test_tampered_body() -> None:
    body = raw_fixture("charge.refunded")
    headers = sign(body)
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at().verify(headers, body.replace(b'"amount": 2198', b'"amount": 21980', 1), [SECRET])


def test_signature_covers_the_timestamp() -> None:
    body = raw_fixture("charge.refunded")
    header = sign(body)["stripe-signature"].replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at().verify({"stripe-signature": header}, body, [SECRET])


def test_secret_is_the_whole_whsec_string() -> None:
    body = raw_fixture("charge.refunded")
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at().verify(sign(body, SECRET.removeprefix("whsec_")), body, [SECRET])


@pytest.mark.parametrize("age", [timedelta(seconds=301), timedelta(days=3)])
def test_stale_timestamp(age: timedelta) -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match="older than the 300 s tolerance"):
        at(NOW + age).verify(sign(body), body, [SECRET])


@pytest.mark.parametrize("ahead", [timedelta(seconds=301), timedelta(days=1)])
def test_future_timestamp(ahead: timedelta) -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match="timestamp is in the future"):
        at(NOW - ahead).verify(sign(body), body, [SECRET])


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
def test_timestamps_inside_the_window_pass(skew: int) -> None:
    body = raw_fixture("payment_intent.succeeded")
    at(NOW + timedelta(seconds=skew)).verify(sign(body), body, [SECRET])


def test_a_stale_forgery_is_reported_as_a_bad_signature() -> None:
    body = raw_fixture("payment_intent.succeeded")
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at(NOW + timedelta(days=3)).verify(sign(body, "whsec_x"), body, [SECRET])


def test_rotated_secret_second_of_two_matches() -> None:
    body = raw_fixture("checkout.session.completed")
    at().verify(sign(body, OLD_SECRET), body, [SECRET, OLD_SECRET])
    at().verify(sign(body, SECRET), body, [SECRET, OLD_SECRET])


def test_two_v1_signatures_where_only_the_second_matches() -> None:
    body = raw_fixture("checkout.session.completed")
    headers = sign(body, "whsec_rolled_away", SECRET)
    assert headers["stripe-signature"].count("v1=") == 2
    at().verify(headers, body, [SECRET])


def test_two_v1_signatures_where_none_matches() -> None:
    body = raw_fixture("checkout.session.completed")
    with pytest.raises(InvalidSignature, match="signature does not match"):
        at().verify(sign(body, "whsec_a", "whsec_b"), body, [SECRET, OLD_SECRET])


def test_secret_with_stray_whitespace_still_verifies() -> None:
    body = raw_fixture("checkout.session.completed")
    at().verify(sign(body), body, [f" {SECRET}\n"])


@pytest.mark.parametrize("secrets", [[], [""]])
def test_no_secrets_configured(secrets: list[str]) -> None:
    body = raw_fixture("checkout.session.completed")
    with pytest.raises(InvalidSignature, match="no webhook secret"):
        at().verify(sign(body), body, secrets)


def test_body_that_is_not_utf8() -> None:
    body = b'{"id": "evt_1", "note": "\xff\xfe"}'
    with pytest.raises(InvalidSignature, match="body is not UTF-8"):
        at().verify(sign(body), body, [SECRET])


def test_utf8_body_with_non_ascii_text_verifies() -> None:
    body = '{"id": "evt_1", "type": "x.y", "note": "Zoë — 日本"}'.encode()
    verify(sign(body), body, [SECRET], lambda: NOW)


def test_default_clock_is_now() -> None:
    body = raw_fixture("charge.refunded")
    now = int(datetime.now(UTC).timestamp())
    StripeConnector().verify(sign(body, timestamp=now), body, [SECRET])


def test_parse_header() -> None:
    assert parse_header(f"t={T},v1=aa,v0=bb,v1=cc") == (T, ["aa", "cc"])


# --- identify -----------------------------------------------------------------------------

EXPECTED_KEYS = {
    "charge.dispute.created": "evt:evt_1MtJUU2eZvKYlo2CgVb3dT9Q",
    "charge.refunded": "evt:evt_3MtwBwLkdIwHu7ix2Ayp2Ezc",
    "checkout.session.completed": "evt:evt_1NG8Du2eZvKYlo2CcHkAxFz1",
    "payment_intent.succeeded": "evt:evt_3MtwBwLkdIwHu7ix2K0aZ1Qb",
}


@pytest.mark.parametrize("name", EVENTS)
def test_identify_every_fixture(name: str) -> None:
    raw = raw_fixture(name)
    assert StripeConnector().identify(sign(raw), raw) == (name, EXPECTED_KEYS[name])


def test_every_event_fixture_has_an_expected_key() -> None:
    assert sorted(EXPECTED_KEYS) == EVENTS


def test_identify_the_docs_example() -> None:
    raw = raw_fixture("event-object-docs-example")
    assert identify({}, raw) == ("setup_intent.created", "evt:evt_1NG8Du2eZvKYlo2CUI79vXWy")


def test_identify_the_golden_vector_body(golden: dict[str, Any]) -> None:
    key = identify({}, golden["body"].encode())
    assert key == ("checkout.session.completed", "evt:evt_test_webhook")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json at all",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'{"type": 5}',
        b'{"id": 42}',
        b'{"id": ["evt_1"]}',
        b'{"id": ""}',
        b"{" * 5000,
        b"[" * 100_000,
    ],
)
def test_identify_falls_back_on_garbage_and_never_raises(raw: bytes) -> None:
    event_type, key = StripeConnector().identify({}, raw)
    assert event_type == "unknown"
    assert key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_identify_keeps_the_type_when_the_id_is_missing() -> None:
    raw = b'{"type": "charge.refunded", "data": {"object": {}}}'
    event_type, key = identify({}, raw)
    assert event_type == "charge.refunded"
    assert key == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_identify_keeps_the_id_when_the_type_is_bad() -> None:
    assert identify({}, b'{"type": 5, "id": "evt_1"}') == ("unknown", "evt:evt_1")


def test_a_redelivery_has_the_same_key() -> None:
    raw = raw_fixture("charge.refunded")
    again = json.dumps({**json.loads(raw), "pending_webhooks": 2}).encode()
    assert identify({}, raw) == identify({}, again)


# --- parse --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENTS)
def test_parse_every_fixture(name: str) -> None:
    event = StripeConnector().parse(raw_fixture(name), {})
    assert event.event_type == name
    assert len(event.changes) == 1


def test_parse_unhandled_type_to_no_changes() -> None:
    event = parse(raw_fixture("event-object-docs-example"), {})
    assert event.event_type == "setup_intent.created"
    assert event.changes == ()


THIN_EVENT = {
    "id": "evt_test_65R9Ijk8dTMgu5ZKqYt16SeO0CMA6h1Hc8iC9MXtLvcDY",
    "object": "v2.core.event",
    "type": "v1.billing.meter.error_report_triggered",
    "livemode": False,
    "created": "2024-09-17T06:20:52.246Z",
    "related_object": {"id": "mtr_test_61R9IeP", "type": "billing.meter", "url": "/v1/x"},
}


def test_thin_v2_event_is_rejected_by_name() -> None:
    with pytest.raises(InvalidPayload, match=r"thin v2\.core\.event notifications"):
        parse(json.dumps(THIN_EVENT).encode(), {})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"this is not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"object": "charge", "id": "ch_1"}', "object is not 'event'"),
        (b'{"object": "event", "type": "charge.refunded", "data": {}}', "id is missing"),
        (b'{"id": "", "type": "charge.refunded"}', "id is missing"),
        (b'{"id": "evt_1", "data": {"object": {}}}', "type is missing"),
        (b'{"id": "evt_1", "type": ""}', "type is missing"),
        (b'{"id": "evt_1", "type": "charge.refunded"}', "data.object is missing"),
        (b'{"id": "evt_1", "type": "x.y", "data": {"object": null}}', "data.object is missing"),
        (b'{"id": "evt_1", "type": "x.y", "data": []}', "data.object is missing"),
    ],
)
def test_invalid_payloads(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        StripeConnector().parse(raw, {})


def test_parse_the_golden_body_needs_created(golden: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload, match="created is missing"):
        parse(golden["body"].encode(), {})


# --- registration -------------------------------------------------------------------------


def test_registered_as_stripe() -> None:
    found = connectors.get("stripe")
    assert isinstance(found, StripeConnector)
    assert found.slug == "stripe"
    assert found.accepted_status == 200
    assert found.needs_secret is True
    assert found.waits_for_session is True
    assert found.stored_headers == ("content-type", "stripe-signature")
    assert found.outbound("https://api.stripe.com", "sk_test_x") is None


def test_tolerance_is_stripe_pythons_default() -> None:
    from connectors.stripe import const

    assert const.TOLERANCE_SECONDS == stripe.Webhook.DEFAULT_TOLERANCE


def test_import_stripe_inside_the_package_is_the_sdk() -> None:
    from connectors.stripe import webhook

    assert webhook.stripe is stripe
    assert "site-packages" in str(stripe.__file__)
