"""Google Calendar connector: channel pushes in, OAuth, change feeds and event writes out.

Registers itself as `google`.
"""

from __future__ import annotations

from connectors import register
from connectors.google.api import GoogleCalendarApi
from connectors.google.mapping import event_body, event_id, to_calendar_event
from connectors.google.oauth import GoogleOAuth
from connectors.google.outbound import GoogleOutbound
from connectors.google.push import GoogleConnector

__all__ = [
    "GoogleCalendarApi",
    "GoogleConnector",
    "GoogleOAuth",
    "GoogleOutbound",
    "connector",
    "event_body",
    "event_id",
    "to_calendar_event",
]

connector = register(GoogleConnector())
