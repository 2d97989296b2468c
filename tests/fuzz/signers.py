"""Per-connector fuzz fixtures: how to sign a body, which headers matter, which samples exist."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import Connector
from connectors.calcom import const as calcom_const
from connectors.calcom.webhook import CalcomConnector
from connectors.calcom.webhook import signature as calcom_signature
from connectors.daily import const as daily_const
from connectors.daily.webhook import DailyConnector
from connectors.daily.webhook import signature as daily_signature
from connectors.google import const as google_const
from connectors.google.push import GoogleConnector
from connectors.outlook.push import OutlookConnector
from connectors.stripe import const as stripe_const
from connectors.stripe.webhook import StripeConnector

#: the fixed "now" of the pure properties (the HTTP and clock-skew tests use the real clock)
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)

CALCOM_SECRET = "calcom-fuzz-secret"
DAILY_SECRET = base64.b64encode(b"daily-fuzz-secret-key-0123456789").decode()
STRIPE_SECRET = "whsec_fuzz_secret"
GOOGLE_TOKEN = "google-channel-token-fuzz"
OUTLOOK_STATE = "outlook-client-state-fuzz"


def stripe_header(raw: bytes, secret: str = STRIPE_SECRET, at: datetime = NOW) -> str:
    """A Stripe-Signature header for a UTF-8 body, as Stripe makes it."""
    t = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def daily_headers(raw: bytes, secret: str = DAILY_SECRET, at: datetime = NOW) -> dict[str, str]:
    """X-Webhook-Timestamp (milliseconds) and X-Webhook-Signature for a body."""
    stamp = str(int(at.timestamp() * 1000))
    return {
        daily_const.TIMESTAMP_HEADER: stamp,
        daily_const.SIGNATURE_HEADER: daily_signature(stamp, raw, secret),
    }


def google_headers(state: str = "exists", channel: str = "chan-1") -> dict[str, str]:
    """A push's headers with the channel token the hub expects."""
    return {
        google_const.CHANNEL_ID_HEADER: channel,
        google_const.CHANNEL_TOKEN_HEADER: GOOGLE_TOKEN,
        google_const.RESOURCE_STATE_HEADER: state,
        google_const.RESOURCE_ID_HEADER: "res-1",
        google_const.MESSAGE_NUMBER_HEADER: "7",
    }


@dataclass(frozen=True)
class Target:
    """One connector under fuzz: its instance, secrets, signer and interesting headers."""

    slug: str
    connector: Connector
    secrets: tuple[str, ...]
    sign: Callable[[bytes], dict[str, str]]
    header_names: list[str] = field(default_factory=list)
    #: whether the connector carries its proof in the body (Outlook's clientState)
    proof_in_body: bool = False

    def __repr__(self) -> str:
        return self.slug


TARGETS: dict[str, Target] = {
    "calcom": Target(
        "calcom",
        CalcomConnector(),
        (CALCOM_SECRET,),
        lambda raw: {calcom_const.SIGNATURE_HEADER: calcom_signature(raw, CALCOM_SECRET)},
        [calcom_const.SIGNATURE_HEADER, calcom_const.VERSION_HEADER, "content-type"],
    ),
    "daily": Target(
        "daily",
        DailyConnector(now=lambda: NOW),
        (DAILY_SECRET,),
        daily_headers,
        [daily_const.TIMESTAMP_HEADER, daily_const.SIGNATURE_HEADER],
    ),
    "stripe": Target(
        "stripe",
        StripeConnector(now=lambda: NOW),
        (STRIPE_SECRET,),
        lambda raw: {stripe_const.SIGNATURE_HEADER: stripe_header(raw)},
        [stripe_const.SIGNATURE_HEADER],
    ),
    "google": Target(
        "google",
        GoogleConnector(),
        (GOOGLE_TOKEN,),
        lambda raw: google_headers(),
        list(google_const.STORED_HEADERS) + [google_const.CHANNEL_TOKEN_HEADER],
    ),
    "outlook": Target(
        "outlook",
        OutlookConnector(),
        (OUTLOOK_STATE,),
        lambda raw: {"content-type": "application/json"},
        ["content-type"],
        proof_in_body=True,
    ),
}


def with_client_state(doc: Any, state: str = OUTLOOK_STATE) -> Any:
    """An Outlook notification body whose items carry the expected clientState."""
    if isinstance(doc, dict) and isinstance(doc.get("value"), list):
        for item in doc["value"]:
            if isinstance(item, dict) and "clientState" in item:
                item["clientState"] = state
    return doc
