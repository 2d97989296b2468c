"""Outlook (Microsoft Graph) connector: change notifications in, MSAL OAuth, delta and writes.

Not registered yet: the lead adds it to `connectors/__init__.py` (`register(connector)`).
"""

from __future__ import annotations

from connectors.outlook.api import OutlookCalendarApi
from connectors.outlook.mapping import event_body, to_calendar_event, transaction_id
from connectors.outlook.oauth import OutlookOAuth
from connectors.outlook.outbound import OutlookOutbound
from connectors.outlook.push import OutlookConnector

__all__ = [
    "OutlookCalendarApi",
    "OutlookConnector",
    "OutlookOAuth",
    "OutlookOutbound",
    "connector",
    "event_body",
    "to_calendar_event",
    "transaction_id",
]

connector = OutlookConnector()
