"""Stripe webhooks: Stripe-Signature verification, identity for dedupe, and parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import stripe

from connectors.base import Connector, Headers, InboundEvent, body_digest
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.signing import require_secrets
from connectors.stripe import const
from connectors.stripe.mapping import to_changes

Clock = Callable[[], datetime]

_DIGITS = re.compile(r"[0-9]{1,12}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_header(header: str) -> tuple[int, list[str]]:
    """The `t=` timestamp and the v1 signatures of a Stripe-Signature header.

    Items are split exactly as stripe-python splits them, so the timestamp checked here is
    the one the library signs with.
    """
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidSignature("malformed Stripe-Signature header")
        if key == "t":
            stamps.append(value)
        elif key == const.SIGNATURE_SCHEME and value:
            signatures.append(value)
    if len(stamps) != 1 or not _DIGITS.fullmatch(stamps[0]):
        raise InvalidSignature("Stripe-Signature header has no valid t= timestamp")
    if not signatures:
        raise InvalidSignature("Stripe-Signature header has no v1 signature")
    return int(stamps[0]), signatures


def _signed_by(payload: str, header: str, secret: str) -> bool:
    """Whether stripe-python finds a v1 signature of the payload made with this secret."""
    try:
        # tolerance=None: the library's window uses time.time(); ours uses the injected clock
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        return False
    return True


def verify(headers: Headers, raw: bytes, secrets: Sequence[str], now: Clock = _utcnow) -> None:
    """Check Stripe-Signature against each configured secret, then the timestamp window."""
    header = (headers.get(const.SIGNATURE_HEADER) or "").strip()
    if not header:
        raise InvalidSignature("missing Stripe-Signature header")
    timestamp, _ = parse_header(header)
    usable = require_secrets(secrets)
    try:
        payload = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidSignature("body is not UTF-8") from err
    ok = False
    for secret in usable:  # rotation: any secret may match; no early exit
        ok |= _signed_by(payload, header, secret.strip())
    if not ok:
        raise InvalidSignature("signature does not match")
    clock = now().timestamp()
    if timestamp < clock - const.TOLERANCE_SECONDS:
        raise InvalidSignature(f"timestamp is older than the {const.TOLERANCE_SECONDS} s tolerance")
    if timestamp > clock + const.FUTURE_SECONDS:
        raise InvalidSignature(
            f"timestamp is in the future (beyond the {const.FUTURE_SECONDS} s tolerance)"
        )


def decode(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; raise InvalidPayload."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise InvalidPayload("body is not JSON") from err
    if not isinstance(body, dict):
        raise InvalidPayload("body is not a JSON object")
    return body


def identify(headers: Headers, raw: bytes) -> tuple[str, str]:
    """(type, `evt:<event id>`) for dedupe (Stripe retries for 3 days); else a body digest."""
    try:
        body = decode(raw)
    except InvalidPayload:
        body = {}
    kind, ident = body.get("type"), body.get("id")
    event_type = kind if isinstance(kind, str) and kind else "unknown"
    if isinstance(ident, str) and ident:
        return event_type, f"evt:{ident}"
    return event_type, "sha256:" + body_digest(raw)


def parse(raw: bytes, headers: Headers) -> InboundEvent:
    """The canonical changes of a verified Stripe event; raise InvalidPayload."""
    body = decode(raw)
    if body.get("object") == const.THIN_EVENT_OBJECT:
        raise InvalidPayload(
            f"thin {const.THIN_EVENT_OBJECT} notifications are not supported: "
            "configure the endpoint for snapshot events"
        )
    if body.get("object", "event") != "event":
        raise InvalidPayload("object is not 'event'")
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise InvalidPayload("id is missing")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidPayload("type is missing")
    data = body.get("data")
    if not isinstance(data, Mapping) or not isinstance(data.get("object"), Mapping):
        raise InvalidPayload(
            f"data.object is missing (a thin {const.THIN_EVENT_OBJECT} notification?)"
        )
    return InboundEvent(event_type=kind, changes=to_changes(body))


class StripeConnector(Connector):
    """Stripe payments: signed snapshot events in; read-only API for recovery."""

    slug: ClassVar[str] = const.SLUG
    stored_headers: ClassVar[tuple[str, ...]] = ("content-type", const.SIGNATURE_HEADER)
    accepted_status: ClassVar[int] = 200
    #: a payment often arrives before the booking it pays for: the delivery waits for it
    waits_for_session: ClassVar[bool] = True

    def __init__(self, now: Clock = _utcnow) -> None:
        self.now = now

    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        """Check the HMAC over the raw bytes and the timestamp; raise InvalidSignature(reason)."""
        verify(headers, raw, secrets, self.now)

    def identify(self, headers: Headers, raw: bytes) -> tuple[str, str]:
        """Return (event type, dedupe key); never raises."""
        try:
            return identify(headers, raw)
        except Exception:  # noqa: BLE001 - the contract is never to raise
            return "unknown", "sha256:" + body_digest(raw)

    def parse(self, raw: bytes, headers: Headers) -> InboundEvent:
        """Turn a verified body into canonical changes; raise InvalidPayload(reason)."""
        return parse(raw, headers)
