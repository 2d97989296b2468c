"""Writing sessions to Cal.com: bookings made in the hub, and hub-side reschedules and cancels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.base import LinkState, Outbound, PushResult, SessionView
from connectors.calcom.client import CalcomClient
from connectors.calcom.mapping import parse_time
from connectors.errors import NotFound, PermanentError

#: the booking metadata key that names the hub's session (read back by the mapping)
SESSION_KEY = "sessionhub_session_id"


def _start(booking: dict[str, Any]) -> datetime | None:
    raw = booking.get("start") or booking.get("startTime")
    return parse_time(raw, "start") if raw else None


class CalcomOutbound(Outbound):
    """One Cal.com call per reconcile: create, reschedule, confirm, decline or cancel."""

    def __init__(self, client: CalcomClient) -> None:
        self.client = client

    def create(self, session: SessionView) -> PushResult:
        event_type = session.coach_settings.get("calcom_event_type_id")
        if not event_type:
            raise PermanentError("the coach has no Cal.com event type for hub-made bookings")
        found = self._find_ours(session)
        if found is None:  # lookup before create: a retried job never books twice
            found = self.client.create_booking(
                start=session.start_at,
                event_type_id=int(event_type),
                attendee_name=session.attendee_name or session.attendee_email,
                attendee_email=session.attendee_email,
                attendee_time_zone=session.attendee_timezone or session.timezone,
                length_in_minutes=int((session.end_at - session.start_at).total_seconds() // 60),
                metadata={SESSION_KEY: session.id},
                # the session's own room: without it Cal.com opens a Cal Video room of its own
                location=(
                    {"type": "link", "link": session.meeting_url} if session.meeting_url else None
                ),
            )
        return self._result(found)

    def update(self, session: SessionView, link: LinkState) -> PushResult:
        assert link.external_id is not None  # noqa: S101 - update needs an existing booking
        try:
            booking = self.client.get_booking(link.external_id)
        except NotFound:
            return self.create(session)
        status = str(booking.get("status", "")).lower()
        if _start(booking) != session.start_at:
            booking = self.client.reschedule_booking(
                link.external_id, session.start_at, reason="rescheduled in SessionHub"
            )
        elif session.status == "confirmed" and status in ("pending", "unconfirmed"):
            booking = {**booking, **self.client.confirm_booking(link.external_id)}
        elif session.status == "awaiting_reschedule":
            pass  # the client picks a new time in Cal.com; nothing to write until then
        return self._result(booking, fallback=link.external_id)

    def delete(self, session: SessionView, link: LinkState) -> None:
        uid = link.external_id
        if uid is None:  # a create whose answer was lost: find what it made
            found = self._find_ours(session)
            if found is None or not found.get("uid"):
                return
            uid = str(found["uid"])
        try:
            if session.status == "rejected":
                self.client.decline_booking(uid, session.cancellation_reason)
            else:
                self.client.cancel_booking(uid, session.cancellation_reason)
        except NotFound:
            return  # already gone
        except PermanentError as err:
            # a retried cancel whose first answer was lost: Cal.com says it is done already
            if err.status == 400 and "already" in str(err).lower():
                return
            raise

    def _find_ours(self, session: SessionView) -> dict[str, Any] | None:
        for booking in self.client.list_bookings(attendee_email=session.attendee_email):
            if (booking.get("metadata") or {}).get(SESSION_KEY) == session.id:
                return booking
        return None

    @staticmethod
    def _result(booking: dict[str, Any], fallback: str | None = None) -> PushResult:
        uid = str(booking.get("uid") or fallback or "")
        if not uid:
            raise PermanentError("Cal.com answered without a booking uid")
        return PushResult(
            external_id=uid,
            remote_version=booking.get("updatedAt"),
            data={"status": booking.get("status")},
        )
