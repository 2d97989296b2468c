"""Outlook (Microsoft Graph) connector: change notifications in, MSAL OAuth, delta and writes.

Registers itself as `outlook`.
"""

from __future__ import annotations

from connectors import register
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

connector = register(OutlookConnector())
