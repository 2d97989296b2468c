"""Daily connector: call events in, session rooms out. Registers itself as `daily`."""

from __future__ import annotations

from connectors import register
from connectors.daily.client import DailyClient, RoomExists
from connectors.daily.outbound import DailyOutbound, join_window, room_name
from connectors.daily.webhook import DailyConnector

__all__ = [
    "DailyClient",
    "DailyConnector",
    "DailyOutbound",
    "RoomExists",
    "connector",
    "join_window",
    "room_name",
]

connector = register(DailyConnector())
