"""Outlook calendars and events with a per-calendar change log (what delta queries read)."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors.sandbox.outlook_models import Calendar, Event, OutlookError, new_id, parse_when

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")


class CalendarStore:
    """Every mailbox's calendars and events (`state.outlook.calendars`)."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock = lock
        self.clock = clock
        self.by_id: dict[str, Calendar] = {}
        self.events: dict[str, Event] = {}
        #: (mailbox, transactionId) -> event id
        self.transactions: dict[tuple[str, str], str] = {}

    def seed(self, owner: str) -> None:
        """A new mailbox's calendars: the default one and a read-only Birthdays calendar."""
        with self.lock:
            for name, default, edit in (("Calendar", True, True), ("Birthdays", False, False)):
                calendar = Calendar(new_id("AAMkAGI2"), owner, name, default, edit)
                self.by_id[calendar.id] = calendar

    def of(self, owner: str) -> list[Calendar]:
        with self.lock:
            return [c for c in self.by_id.values() if c.owner == owner]

    def calendar(self, owner: str | None, calendar_id: str) -> Calendar:
        """A calendar by id, or the default one for `calendar`; 404 when not the owner's."""
        with self.lock:
            if calendar_id == "calendar" and owner is not None:
                return next(c for c in self.of(owner) if c.is_default)
            found = self.by_id.get(calendar_id)
            if found is None or (owner is not None and found.owner != owner):
                raise OutlookError(404, "ErrorItemNotFound", "The specified object was not found.")
            return found

    def event(self, owner: str | None, event_id: str) -> Event:
        with self.lock:
            found = self.events.get(event_id)
            if found is None or found.deleted or (owner is not None and found.owner != owner):
                raise OutlookError(404, "ErrorItemNotFound", "The specified object was not found.")
            return found

    def _changed(self, event: Event) -> None:
        self.by_id[event.calendar_id].log.append(event.id)

    def create(self, calendar: Calendar, body: Mapping[str, Any]) -> tuple[Event, bool]:
        """A new event (True), or the one already made with the same transactionId (False)."""
        with self.lock:
            if not calendar.can_edit:
                raise OutlookError(403, "ErrorAccessDenied", "Access is denied.")
            txn = body.get("transactionId")
            if isinstance(txn, str) and (calendar.owner, txn) in self.transactions:
                return self.events[self.transactions[(calendar.owner, txn)]], False
            now = self.clock()
            event = Event(
                id=new_id(),
                calendar_id=calendar.id,
                owner=calendar.owner,
                subject="",
                start=now,
                end=now,
                created=now,
                modified=now,
                change_key=secrets.token_urlsafe(12),
                ical_uid="040000008200E00074C5B7101A82E008" + uuid.uuid4().hex.upper(),
                transaction_id=txn if isinstance(txn, str) else None,
            )
            self._apply(event, body, creating=True)
            self.events[event.id] = event
            if event.transaction_id:
                self.transactions[(calendar.owner, event.transaction_id)] = event.id
            self._changed(event)
            return event, True

    def _apply(self, event: Event, body: Mapping[str, Any], *, creating: bool = False) -> None:
        if (
            "transactionId" in body
            and not creating
            and body["transactionId"] != event.transaction_id
        ):
            raise OutlookError(
                400, "ErrorInvalidPropertyUpdateSentAsMeetingUpdate", "transactionId"
            )
        if "subject" in body:
            event.subject = str(body["subject"] or "")
        if isinstance(body.get("body"), dict):
            event.body = {"contentType": "html", "content": "", **body["body"]}
        start = parse_when(body["start"], "start") if "start" in body else event.start
        end = parse_when(body["end"], "end") if "end" in body else event.end
        if creating and ("start" not in body or "end" not in body):
            raise OutlookError(400, "ErrorInvalidRequest", "start and end are required")
        if end < start:
            raise OutlookError(400, "ErrorInvalidRequest", "end is before start")
        event.start, event.end = start, end
        if "isAllDay" in body:
            event.is_all_day = bool(body["isAllDay"])
        if "showAs" in body:
            if body["showAs"] not in SHOW_AS:
                raise OutlookError(400, "ErrorInvalidRequest", "bad showAs")
            event.show_as = str(body["showAs"])
        if "isCancelled" in body:
            event.is_cancelled = bool(body["isCancelled"])
        if isinstance(body.get("location"), dict):
            event.location = dict(body["location"])
        if isinstance(body.get("attendees"), list):
            event.attendees = list(body["attendees"])
        for prop in body.get("singleValueExtendedProperties") or []:
            if isinstance(prop, dict) and isinstance(prop.get("id"), str):
                event.extended[prop["id"]] = str(prop.get("value", ""))

    def update(self, event: Event, body: Mapping[str, Any]) -> Event:
        with self.lock:
            if not self.by_id[event.calendar_id].can_edit:
                raise OutlookError(403, "ErrorAccessDenied", "Access is denied.")
            self._apply(event, body)
            event.touch(self.clock())
            self._changed(event)
            return event

    def delete(self, event: Event) -> Event:
        with self.lock:
            event.deleted = True
            event.touch(self.clock())
            self._changed(event)
            return event

    def changes(self, calendar: Calendar, since: int, upto: int) -> list[Event]:
        """Each event changed in log[since:upto] once, in order of its first change there."""
        with self.lock:
            seen: dict[str, Event] = {}
            for event_id in calendar.log[since:upto]:
                seen.setdefault(event_id, self.events[event_id])
            return list(seen.values())

    def window(self, calendar: Calendar, start: datetime, end: datetime) -> list[Event]:
        """Live events overlapping [start, end), by start."""
        with self.lock:
            found = [
                e
                for e in self.events.values()
                if e.calendar_id == calendar.id
                and not e.deleted
                and e.start < end
                and e.end > start
            ]
            return sorted(found, key=lambda e: (e.start, e.id))

    def invalidate(self, calendar: Calendar) -> None:
        """Older delta tokens of this calendar answer 410 from now on."""
        with self.lock:
            calendar.nonce = secrets.token_hex(4)

    def dump(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    **c.to_json(),
                    "events": [
                        {**e.to_json(expand=list(e.extended)), "deleted": e.deleted}
                        for e in self.events.values()
                        if e.calendar_id == c.id
                    ],
                }
                for c in self.by_id.values()
            ]
