"""Pure Stripe translations: webhook events to canonical payment changes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import Change, LinkRef
from connectors.errors import InvalidPayload
from connectors.stripe import const

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def from_unix(value: Any, field: str) -> datetime:
    """Whole Unix seconds (Stripe's `created`) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{field} is missing" if value is None else f"{field} is not an int")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError) as err:
        raise InvalidPayload(f"{field} is not a Unix timestamp") from err


def session_uuid(value: Any) -> str | None:
    """A hub session id (canonical lower-case UUID) when the value is one, else None."""
    if not isinstance(value, str) or not _UUID.fullmatch(value.strip()):
        return None
    return str(uuid.UUID(value.strip()))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _ref(value: Any) -> str | None:
    """A Stripe id, whether the field holds the id or the expanded object."""
    return _str(value) or _str(_dict(value).get("id"))


def _currency(value: Any) -> str | None:
    text = _str(value)
    return text.lower() if text else None


def linking(obj: Mapping[str, Any], *, checkout: bool = False) -> dict[str, Any]:
    """Change.session_id and links from metadata and (Checkout only) client_reference_id.

    The hub tries them in order: sessionhub_session_id metadata, a UUID client_reference_id,
    then the Cal.com booking uids (a non-UUID client_reference_id, calcom_booking_uid metadata),
    then the external id (the PaymentIntent).
    """
    metadata = _dict(obj.get("metadata"))
    session_id = session_uuid(metadata.get(const.SESSION_METADATA_KEY))
    links: list[LinkRef] = []
    reference = _str(obj.get("client_reference_id")) if checkout else None
    if reference is not None:
        if (as_session := session_uuid(reference)) is None:
            links.append(LinkRef(const.BOOKING_PROVIDER, reference))
        elif session_id is None:
            session_id = as_session
    booking = _str(metadata.get(const.BOOKING_METADATA_KEY))
    if booking is not None and LinkRef(const.BOOKING_PROVIDER, booking) not in links:
        links.append(LinkRef(const.BOOKING_PROVIDER, booking))
    return {"session_id": session_id, "links": tuple(links)}


def _checkout(event_type: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    # a Checkout Session's payment_intent is null until (or unless) a payment is created
    cs_id = _str(obj.get("id"))
    pi_id = _ref(obj.get("payment_intent"))
    raw_status = _str(obj.get("payment_status"))
    amount = _int(obj.get("amount_total"))
    match event_type:
        # the customer finished Checkout; async methods (bank debits) are still `unpaid`
        case const.CHECKOUT_COMPLETED:
            if raw_status not in const.CHECKOUT_PAYMENT_STATUS:
                raise InvalidPayload(f"{event_type}: payment_status {raw_status!r} is unknown")
            status = const.CHECKOUT_PAYMENT_STATUS[raw_status]
            event = "checkout_completed"
            if raw_status == "no_payment_required":
                amount = 0
        # an asynchronous method settled
        case const.CHECKOUT_ASYNC_SUCCEEDED:
            status, event = "paid", "async_payment_succeeded"
        # an asynchronous method failed
        case _:
            status, event = "failed", "async_payment_failed"
    return dict(
        external_id=pi_id or cs_id,
        event=event,
        payment_status=status,
        payment_amount=amount,
        detail={"checkout_session": cs_id, "stripe_payment_status": raw_status},
        **linking(obj, checkout=True),
    )


def _payment_intent(event_type: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {"latest_charge": _ref(obj.get("latest_charge"))}
    amount = _int(obj.get("amount"))
    match event_type:
        # the money arrived; amount_received is what was captured
        case const.PAYMENT_SUCCEEDED:
            received = _int(obj.get("amount_received"))
            status, event = "paid", "payment_succeeded"
            amount = received if received is not None else amount
        # an attempt failed; only the codes, never the message (it may quote the customer)
        case const.PAYMENT_FAILED:
            error = _dict(obj.get("last_payment_error"))
            detail.update(
                failure_code=_str(error.get("code")), decline_code=_str(error.get("decline_code"))
            )
            status, event = "failed", "payment_failed"
        # an asynchronous method was submitted and has not settled yet
        case _:
            status, event = "pending", "payment_processing"
    return dict(
        external_id=_str(obj.get("id")),
        event=event,
        payment_status=status,
        payment_amount=amount,
        detail=detail,
        **linking(obj),
    )


def _refund(obj: Mapping[str, Any]) -> dict[str, Any]:
    # data.object is the Charge; amount_refunded is cumulative over every refund of it
    amount = _int(obj.get("amount"))
    refunded = _int(obj.get("amount_refunded"))
    if amount is None or refunded is None:
        field = "amount" if amount is None else "amount_refunded"
        raise InvalidPayload(f"{const.CHARGE_REFUNDED}: data.object.{field} is missing")
    full = obj.get("refunded") is True or refunded >= amount
    return dict(
        external_id=_ref(obj.get("payment_intent")) or _str(obj.get("id")),
        event="refunded",
        payment_status="refunded" if full else "partially_refunded",
        payment_amount=amount,
        detail={"charge": _str(obj.get("id")), "amount_refunded": refunded},
        **linking(obj),
    )


def _dispute(obj: Mapping[str, Any]) -> dict[str, Any]:
    # the customer's bank pulled the money back: the hub shows it and flags it for ops
    charge = _ref(obj.get("charge"))
    detail = {
        "dispute": _str(obj.get("id")),
        "charge": charge,
        "reason": _str(obj.get("reason")),
        "status": _str(obj.get("status")),
        "flag": "ops",
    }
    return dict(
        external_id=_ref(obj.get("payment_intent")) or charge,
        event="dispute_opened",
        timeline_only=True,
        detail=detail,
        **linking(obj),
    )


def _fields(event_type: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The type-specific Change fields of one handled event type."""
    if event_type in const.CHECKOUT_TYPES:
        return _checkout(event_type, obj)
    if event_type in const.PAYMENT_INTENT_TYPES:
        return _payment_intent(event_type, obj)
    if event_type == const.CHARGE_REFUNDED:
        return _refund(obj)
    return _dispute(obj)


def to_changes(body: Mapping[str, Any]) -> tuple[Change, ...]:
    """The canonical changes a decoded Stripe event carries (may be none).

    occurred_at is the event's `created`: the hub orders Stripe changes per session by it, so
    a refund wins over a payment event delivered late. A payment never creates a session.
    """
    event_type = _str(body.get("type"))
    if event_type is None:
        raise InvalidPayload("type is missing")
    if event_type not in const.HANDLED_TYPES:
        return ()  # checkout.session.expired, payment_intent.canceled...: ignored
    obj = _dict(body.get("data")).get("object")
    if not isinstance(obj, Mapping):
        raise InvalidPayload(f"{event_type}: data.object is missing")
    if _str(obj.get("id")) is None:
        raise InvalidPayload(f"{event_type}: data.object.id is missing")
    occurred_at = from_unix(body.get("created"), "created")
    fields = _fields(event_type, obj)
    if not fields["external_id"]:
        raise InvalidPayload(f"{event_type}: data.object names no payment")
    common = {
        "event_id": _str(body.get("id")),
        "object": _str(obj.get("object")),
        "id": _str(obj.get("id")),
        "payment_intent": _ref(obj.get("payment_intent")),
        "customer": _ref(obj.get("customer")),
        "amount": _int(obj.get("amount_total", obj.get("amount"))),
        "currency": _currency(obj.get("currency")),
        "livemode": body.get("livemode") if isinstance(body.get("livemode"), bool) else None,
    }
    detail = {**common, **fields.pop("detail")}
    if event_type in const.PAYMENT_INTENT_TYPES:
        detail["payment_intent"] = _str(obj.get("id"))
    fields["detail"] = {k: v for k, v in detail.items() if v is not None}
    if not fields.get("timeline_only"):
        fields["payment_currency"] = _currency(obj.get("currency"))
    change = Change(source=const.SLUG, occurred_at=occurred_at, create=False, **fields)
    return (change,)
