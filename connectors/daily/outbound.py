"""Writes a session's Daily room: one private room per session, named after its id."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import LinkState, Outbound, PushResult, SessionView
from connectors.daily import const
from connectors.daily.client import DailyClient, RoomExists, unix_seconds
from connectors.errors import NotFound, PermanentError


def room_name(session_id: str) -> str:
    """The session's room name: `hub-` + its UUID's 32 hex digits (a retry finds the same room)."""
    return const.ROOM_PREFIX + uuid.UUID(session_id).hex


def join_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """When the room opens and closes: 15 minutes before the start to 1 hour after the end."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return start - const.JOIN_OPENS_BEFORE, end + const.ROOM_EXPIRES_AFTER


def _managed(link: LinkState) -> bool:
    # a room the hub only learned of (Cal Video's, from a Cal.com booking) is not ours to change
    return link.data.get("managed", True) is not False


class DailyOutbound(Outbound):
    """Creates, moves and deletes the Daily room of a session."""

    def __init__(self, client: DailyClient) -> None:
        self.client = client

    def create(self, session: SessionView) -> PushResult:
        """Create the room; a room already there under the name is adopted and moved."""
        name = room_name(session.id)
        opens, closes = join_window(session.start_at, session.end_at)
        try:
            room = self.client.create_room(
                name, privacy="private", nbf=opens, exp=closes, eject_at_room_exp=True
            )
        except RoomExists:
            # an earlier attempt created it and crashed before recording the link
            room = self._adopt(name, opens, closes)
        return self._result(name, room, opens, closes)

    def update(self, session: SessionView, link: LinkState) -> PushResult:
        """Move the room's window to the session's times; recreate a room that is gone."""
        if not _managed(link) and link.external_id:
            return PushResult(link.external_id, data=dict(link.data), meeting_url=_url(link.data))
        name = link.external_id or room_name(session.id)
        opens, closes = join_window(session.start_at, session.end_at)
        window = {"nbf": unix_seconds(opens), "exp": unix_seconds(closes)}
        if link.external_id and all(link.data.get(k) == v for k, v in window.items()):
            # only the times matter to a room: any other change needs no call
            return PushResult(name, data=dict(link.data), meeting_url=_url(link.data))
        try:
            room = self.client.update_room(name, window)
        except NotFound:
            return self.create(session)
        return self._result(name, room, opens, closes)

    def delete(self, session: SessionView, link: LinkState) -> None:
        """Delete the room (already gone is done); rooms the hub does not manage are left."""
        if not _managed(link) and link.external_id:
            return
        self.client.delete_room(link.external_id or room_name(session.id))

    def _adopt(self, name: str, opens: datetime, closes: datetime) -> dict[str, Any]:
        room = self.client.get_room(name)
        config = room.get("config")
        config = config if isinstance(config, Mapping) else {}
        wanted = {"nbf": unix_seconds(opens), "exp": unix_seconds(closes)}
        if any(config.get(key) != value for key, value in wanted.items()):
            room = self.client.update_room(name, wanted)
        return room

    def _result(
        self, name: str, room: Mapping[str, Any], opens: datetime, closes: datetime
    ) -> PushResult:
        url = _url(room)
        if url is None:
            raise PermanentError(f"daily: room {name} has no url in the response")
        data: dict[str, Any] = {
            "url": url,
            "nbf": unix_seconds(opens),
            "exp": unix_seconds(closes),
            "managed": True,
        }
        return PushResult(external_id=name, remote_version=None, data=data, meeting_url=url)


def _url(data: Mapping[str, Any]) -> str | None:
    url = data.get("url")
    return url if isinstance(url, str) and url else None
