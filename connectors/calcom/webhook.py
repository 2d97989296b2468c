"""Cal.com webhooks: X-Cal-Signature-256 verification, identity for dedupe, and parsing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from connectors.base import Connector, Headers, InboundEvent, Outbound, body_digest
from connectors.calcom import const
from connectors.calcom.client import CalcomClient
from connectors.calcom.mapping import to_changes
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.signing import hmac_sha256, match_any


def signature(raw: bytes, secret: str) -> str:
    """Lower-case hex HMAC-SHA256 of the raw body, keyed by the secret's UTF-8 bytes."""
    return hmac_sha256(secret.encode("utf-8"), raw).hex()


def verify(headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
    """Check `X-Cal-Signature-256` against any configured secret; raise InvalidSignature."""
    provided = (headers.get(const.SIGNATURE_HEADER) or "").strip()
    if not provided:
        raise InvalidSignature("missing X-Cal-Signature-256 header")
    if provided == const.NO_SECRET_SIGNATURE:
        # Cal.com sends this literal when the webhook has no secret: nothing proves the origin
        raise InvalidSignature("the Cal.com webhook has no secret configured (no-secret-provided)")
    match_any([provided.lower()], secrets, lambda secret: signature(raw, secret))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def decode(raw: bytes) -> dict[str, Any]:
    """The body as a mapping: JSON, or the form fields Cal.com sends for non-JSON templates."""
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError as err:
        raise InvalidPayload("body is not UTF-8") from err
    if text.startswith(("{", "[")):
        body = _json_object(text)
        if body is None:
            raise InvalidPayload("body is not a JSON object")
        return body
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError as err:
        raise InvalidPayload("body is neither JSON nor form fields") from err
    # payload templates render whatever the user wrote; a field holding a JSON document
    # (e.g. payload={...}) is used as is, a whole envelope in one field replaces the form
    fields: dict[str, Any] = {}
    for name, value in pairs:
        doc = _json_object(value) if value.lstrip().startswith("{") else None
        if doc is not None and "triggerEvent" in doc:
            return doc
        fields[name] = doc if doc is not None else value
    return fields


def identify(headers: Headers, raw: bytes) -> tuple[str, str]:
    """(trigger, `trigger:uid:createdAt`) for dedupe; a body digest when fields are missing."""
    try:
        body = decode(raw)
    except InvalidPayload:
        body = {}
    trigger = body.get("triggerEvent")
    event_type = trigger if isinstance(trigger, str) and trigger else "unknown"
    payload = body.get("payload")
    if isinstance(payload, Mapping):
        uid = payload.get("uid") or payload.get("bookingUid")
        stamp = body.get("createdAt")
    else:  # flat MEETING_* bodies carry the booking's createdAt; updatedAt tells them apart
        uid = body.get("uid")
        stamp = body.get("updatedAt") or body.get("createdAt")
    parts = (trigger, uid, stamp)
    if all(isinstance(p, str | int) and not isinstance(p, bool) and p != "" for p in parts):
        return event_type, ":".join(str(p) for p in parts)
    return event_type, "sha256:" + body_digest(raw)


def parse(raw: bytes, headers: Headers) -> InboundEvent:
    """The canonical changes of a verified Cal.com delivery; raise InvalidPayload."""
    body = decode(raw)
    trigger = body.get("triggerEvent")
    if not isinstance(trigger, str) or not trigger:
        raise InvalidPayload("triggerEvent is missing")
    return InboundEvent(event_type=trigger, changes=to_changes(body))


class CalcomConnector(Connector):
    """Cal.com bookings: signed webhooks in, API v2 out."""

    slug: ClassVar[str] = const.SLUG
    stored_headers: ClassVar[tuple[str, ...]] = (
        "content-type",
        const.SIGNATURE_HEADER,
        const.VERSION_HEADER,
    )
    accepted_status: ClassVar[int] = 200
    #: a booking's time (reschedule) and status (confirm, decline, cancel) are all the hub
    #: writes to Cal.com: a new join URL or a renamed title is not worth a read and a write
    written_fields: ClassVar[frozenset[str] | None] = frozenset({"start_at", "end_at", "status"})

    def verify(self, headers: Headers, raw: bytes, secrets: Sequence[str]) -> None:
        """Check the HMAC over the raw bytes; raise InvalidSignature(reason)."""
        verify(headers, raw, secrets)

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
        """The Cal.com writer, when an API key is configured."""
        if not api_key:
            return None
        from connectors.calcom.outbound import CalcomOutbound

        return CalcomOutbound(CalcomClient(api_key.split(",")[0].strip(), api_url))
