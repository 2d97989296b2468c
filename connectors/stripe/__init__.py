"""Stripe connector: signed payment events in, read-only API v1 out. Registers as `stripe`."""

from __future__ import annotations

from connectors import register
from connectors.stripe.client import StripeClient
from connectors.stripe.webhook import StripeConnector

__all__ = ["StripeClient", "StripeConnector", "connector"]

connector = register(StripeConnector())
