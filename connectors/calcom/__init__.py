"""Cal.com connector: booking webhooks in, API v2 calls out. Registers itself as `calcom`."""

from __future__ import annotations

from connectors import register
from connectors.calcom.client import CalcomClient
from connectors.calcom.webhook import CalcomConnector

__all__ = ["CalcomClient", "CalcomConnector", "connector"]

connector = register(CalcomConnector())
