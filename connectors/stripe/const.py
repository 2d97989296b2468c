"""Stripe constants: slug, headers, API version, tolerances and the event types the hub maps."""

from __future__ import annotations

from typing import Final

SLUG: Final = "stripe"

API_BASE_URL: Final = "https://api.stripe.com"

# Pinned so payload shapes do not change under us when the account's default version moves
# (https://docs.stripe.com/api/versioning); the recorded fixtures use the same version.
API_VERSION_HEADER: Final = "Stripe-Version"
API_VERSION: Final = "2024-06-20"

# 401: the key is invalid or revoked. 403 (a restricted key lacks a permission) is a
# configuration error that no re-authorisation fixes, so it stays a PermanentError.
AUTH_STATUSES: Final = frozenset({401})

SIGNATURE_HEADER: Final = "stripe-signature"
#: the only scheme Stripe signs with today; `v0` (test-mode legacy) and others are ignored
SIGNATURE_SCHEME: Final = "v1"

# Clock skew: the `t=` of Stripe-Signature is signed, so these bound replays and skew alike;
# a delivery outside [now - TOLERANCE_SECONDS, now + FUTURE_SECONDS] is refused with 401.
#: seconds a signed timestamp may be old: stripe-python's Webhook.DEFAULT_TOLERANCE
TOLERANCE_SECONDS: Final = 300
#: seconds a signed timestamp may be ahead of our clock (the SDK does not check this side)
FUTURE_SECONDS: Final = 300

#: the `object` of a thin v2 event notification: it carries no data.object, only ids
THIN_EVENT_OBJECT: Final = "v2.core.event"

#: metadata keys the hub (or the Cal.com Stripe app) writes when a payment is created
SESSION_METADATA_KEY: Final = "sessionhub_session_id"
BOOKING_METADATA_KEY: Final = "calcom_booking_uid"
#: the provider a non-UUID `client_reference_id` (a Cal.com booking uid) links to
BOOKING_PROVIDER: Final = "calcom"

CHECKOUT_COMPLETED: Final = "checkout.session.completed"
CHECKOUT_ASYNC_SUCCEEDED: Final = "checkout.session.async_payment_succeeded"
CHECKOUT_ASYNC_FAILED: Final = "checkout.session.async_payment_failed"
CHECKOUT_EXPIRED: Final = "checkout.session.expired"
PAYMENT_SUCCEEDED: Final = "payment_intent.succeeded"
PAYMENT_FAILED: Final = "payment_intent.payment_failed"
PAYMENT_PROCESSING: Final = "payment_intent.processing"
PAYMENT_CANCELED: Final = "payment_intent.canceled"
CHARGE_REFUNDED: Final = "charge.refunded"
DISPUTE_CREATED: Final = "charge.dispute.created"

CHECKOUT_TYPES: Final = frozenset(
    {CHECKOUT_COMPLETED, CHECKOUT_ASYNC_SUCCEEDED, CHECKOUT_ASYNC_FAILED}
)
PAYMENT_INTENT_TYPES: Final = frozenset({PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_PROCESSING})

#: every event type the mapping turns into a change; others (checkout.session.expired,
#: payment_intent.canceled...) are recorded as ignored
HANDLED_TYPES: Final = CHECKOUT_TYPES | PAYMENT_INTENT_TYPES | {CHARGE_REFUNDED, DISPUTE_CREATED}

#: Checkout Session `payment_status` on checkout.session.completed -> canonical payment status;
#: `unpaid` means an asynchronous method (bank debit...) settles later
CHECKOUT_PAYMENT_STATUS: Final = {
    "paid": "paid",
    "no_payment_required": "paid",
    "unpaid": "pending",
}

#: GET /v1/events page size: Stripe's maximum (and our default)
EVENTS_PAGE: Final = 100
