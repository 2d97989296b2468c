"""Daily webhooks: the creation probe, X-Webhook-Signature verification, identity and parsing."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.base import Connector, Headers, InboundEvent, Outbound, Reply, body_digest
from connectors.daily import const
from connectors.daily.client import DailyClient
from connectors.daily.mapping import to_changes
from connectors.daily.outbound import DailyOutbound
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.signing import hmac_sha256, match_any, require_secrets

Clock = Callable[[], datetime]

# 13 digits: milliseconds (what Daily sends); 10 digits: seconds (accepted too)
_TIMESTAMP = re.compile(r"[0-9]{13}|[0-9]{10}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def is_probe(raw: bytes) -> bool:
    """Whether the body is Daily's webhook-creation probe, `{"test":"test"}` (any whitespace)."""
    if len(raw) > const.PROBE_MAX_BYTES:
        return False
    try:
        return bool(json.loads(raw) == const.PROBE_BODY)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False


def secret_key(secret: str) -> bytes:
    """The HMAC key of a webhook secret: Daily's `hmac` is base64 of the raw key bytes."""
    text = secret.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InvalidSignature("webhook secret is not base64") from err
    if not key:
        raise InvalidSignature("webhook secret is not base64")
    return key


def signature(timestamp: str, raw: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(key=base64decode(secret), msg=timestamp + "." + raw body))."""
    digest = hmac_sha256(secret_key(secret), timestamp.encode("ascii") + b"." + raw)
    return base64.b64encode(digest).decode("ascii")


def timestamp_time(value: str) -> datetime:
    """An X-Webhook-Timestamp (epoch milliseconds, or seconds) as an aware UTC datetime."""
    if not _TIMESTAMP.fullmatch(value):
        raise InvalidSignature("X-Webhook-Timestamp is not a Unix timestamp")
    number = int(value)
    seconds = number / 1000 if len(value) == 13 else float(number)
    return datetime.fromtimestamp(seconds, UTC)


def verify(headers: Headers, raw: bytes, secrets: Sequence[str], now: Clock = _utcnow) -> None:
    """Check X-Webhook-Signature against any configured secret and the 5-minute window."""
    stamp = (headers.get(const.TIMESTAMP_HEADER) or "").strip()
    if not stamp:
        raise InvalidSignature("missing X-Webhook-Timestamp header")
    provided = (headers.get(const.SIGNATURE_HEADER) or "").strip()
    if not provided:
        raise InvalidSignature("missing X-Webhook-Signature header")
    sent_at = timestamp_time(stamp)
    # a malformed secret never matches; it is named only when no good secret matched either
    good, bad = [], 0
    for secret in require_secrets(secrets):
        try:
            secret_key(secret)
        except InvalidSignature:
            bad += 1
        else:
            good.append(secret)
    if not good:
        raise InvalidSignature("webhook secret is not base64")
    try:
        match_any([provided], good, lambda secret: signature(stamp, raw, secret))
    except InvalidSignature as err:
        if bad:
            raise InvalidSignature(f"{err.reason} (a webhook secret is not base64)") from err
        raise
    if abs(now() - sent_at) > const.TOLERANCE:
        raise InvalidSignature("timestamp outside the 5-minute tolerance")


def decode(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; raise InvalidPayload."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise InvalidPayload("body is not JSON") from err
    if not isinstance(body, dict):
        raise InvalidPayload("body is not a JSON object")
    return body


def identify(headers: Headers, raw: bytes) -> tuple[str, str]:
    """(type, `id:<event id>`) for dedupe; a body digest when the id is missing."""
    try:
        body = decode(raw)
    except InvalidPayload:
        body = {}
    kind, ident = body.get("type"), body.get("id")
    event_type = kind if isinstance(kind, str) and kind else "unknown"
    if isinstance(ident, str | int) and not isinstance(ident, bool) and ident != "":
        return event_type, f"id:{ident}"
    return event_type, "sha256:" + body_digest(raw)


def parse(raw: bytes, headers: Headers) -> InboundEvent:
    """The canonical changes of a verified Daily delivery; raise InvalidPayload."""
    body = decode(raw)
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidPayload("type is missing")
    return InboundEvent(event_type=kind, changes=to_changes(body))


class DailyConnector(Connector):
    """Daily video rooms: signed call events in, rooms and meeting tokens out."""

    slug: ClassVar[str] = const.SLUG
    stored_headers: ClassVar[tuple[str, ...]] = (
        "content-type",
        const.TIMESTAMP_HEADER,
        const.SIGNATURE_HEADER,
    )
    accepted_status: ClassVar[int] = 200

    def __init__(self, now: Clock = _utcnow) -> None:
        self.now = now

    def handshake(self, query: Mapping[str, str], headers: Headers, raw: bytes) -> Reply | None:
        """Answer Daily's webhook-creation probe at once (it is signed with a secret to be)."""
        return Reply(200, const.PROBE_REPLY) if is_probe(raw) else None

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

    def outbound(self, api_url: str, api_key: str | None) -> Outbound | None:
        """Rooms for sessions, written with the Daily API key; None without a key."""
        if api_key is None:
            return None
        return DailyOutbound(DailyClient(api_key, api_url or const.API_BASE_URL))
