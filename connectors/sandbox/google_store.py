"""Google Calendar's state: accounts, calendars, events with a change log, push channels."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from connectors.sandbox.google_channels import ChannelStore
from connectors.sandbox.google_grants import GrantStore
from connectors.sandbox.google_models import (
    EVENT_ID,
    Calendar,
    Event,
    GoogleAccount,
    GoogleError,
    check_times,
    merge,
    rfc3339,
    writable,
)

SECOND_CALENDAR = "Family"
_STATUSES = ("confirmed", "tentative", "cancelled")


def _not_found(what: str = "Not Found") -> GoogleError:
    return GoogleError(404, "notFound", what)


def new_event_id() -> str:
    """A server-made event id (base32hex, like Google's)."""
    return base64.b32hexencode(uuid.uuid4().bytes).decode().lower().rstrip("=")


class GoogleStore:
    """Everything the Google emulation holds, behind the sandbox's lock."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock, self.clock = lock, clock
        self.accounts: dict[str, GoogleAccount] = {}
        self.calendars: dict[str, Calendar] = {}
        self.channels = ChannelStore(lock, clock)
        self.oauth = GrantStore(lock, clock)
        self._etags = itertools.count(1)

    # accounts and calendars

    def ensure_account(self, email: str) -> tuple[GoogleAccount, bool]:
        """The account for an e-mail; made on first use with a primary and a "Family" calendar."""
        email = email.strip().lower()
        if "@" not in email or " " in email:
            raise GoogleError(400, "invalid", f"Invalid e-mail address {email!r}")
        with self.lock:
            if email in self.accounts:
                return self.accounts[email], False
            account = GoogleAccount(email, self.clock())
            self.accounts[email] = account
            family = hashlib.sha256(f"family:{email}".encode()).hexdigest()[:26]
            for cal_id, summary, primary in (
                (email, email, True),
                (f"{family}@group.calendar.google.com", SECOND_CALENDAR, False),
            ):
                self.calendars[cal_id] = Calendar(
                    cal_id, email, summary, primary, secrets.token_hex(8)
                )
            return account, True

    def account(self, email: str) -> GoogleAccount:
        """A known account; 404 otherwise."""
        with self.lock:
            found = self.accounts.get(email.strip().lower())
        if found is None:
            raise _not_found(f"No Google account {email}")
        return found

    def calendar(self, calendar_id: str, account: str | None = None) -> Calendar:
        """A calendar (`primary` means the account's own); 404 when unknown or not the caller's."""
        with self.lock:
            if calendar_id == "primary" and account is not None:
                calendar_id = account
            found = self.calendars.get(calendar_id)
        if found is None or account not in (None, found.owner):
            raise _not_found()
        return found

    def calendars_of(self, email: str) -> list[Calendar]:
        """The account's calendars, primary first."""
        with self.lock:
            return [c for c in self.calendars.values() if c.owner == email]

    # events

    def _touch(self, calendar: Calendar, event: Event) -> Event:
        event.etag = f'"{next(self._etags)}"'
        event.updated = self.clock()
        calendar.log.append(event.id)
        return event

    def event(self, calendar: Calendar, event_id: str) -> Event:
        """An event (deleted ones too); 404 when unknown."""
        with self.lock:
            found = calendar.events.get(event_id)
        if found is None:
            raise _not_found()
        return found

    def insert(
        self,
        calendar: Calendar,
        body: dict[str, Any],
        *,
        send_updates: str | None = None,
        made_by: str = "api",
    ) -> Event:
        """events.insert: a client-chosen `id` must be base32hex and never used before."""
        event_id = body.get("id")
        if event_id is None:
            event_id = new_event_id()
        elif not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            raise GoogleError(400, "invalid", "Invalid resource id value.")
        data = writable(body)
        check_times(data)
        status = self._status(body.get("status", "confirmed"))
        with self.lock:
            if event_id in calendar.events:
                raise GoogleError(409, "duplicate", "The requested identifier already exists.")
            now = self.clock()
            event = Event(
                event_id, calendar.id, calendar.owner, data, status, now, now, "", calendar.position
            )
            event.send_updates, event.made_by = send_updates, made_by
            calendar.events[event_id] = event
            return self._touch(calendar, event)

    @staticmethod
    def _status(value: Any) -> str:
        if value not in _STATUSES:
            raise GoogleError(400, "invalid", f"Invalid value for status: {value}")
        return str(value)

    @staticmethod
    def _check_match(event: Event, if_match: str | None) -> None:
        if if_match and if_match not in ("*", event.etag):
            raise GoogleError(412, "conditionNotMet", "Precondition Failed")

    def update(
        self,
        calendar: Calendar,
        event_id: str,
        body: dict[str, Any],
        *,
        replace: bool = False,
        if_match: str | None = None,
        send_updates: str | None = None,
    ) -> Event:
        """events.patch (merge) or events.update (`replace`); `sequence` moves with the times."""
        with self.lock:
            event = self.event(calendar, event_id)
            self._check_match(event, if_match)
            data = writable(body) if replace else merge(event.data, writable(body))
            check_times(data)
            status = self._status(body.get("status", event.status))
            old = (event.data.get("start"), event.data.get("end"))
            if old != (data.get("start"), data.get("end")):
                event.sequence += 1
            event.data, event.status = data, status
            if send_updates is not None:
                event.send_updates = send_updates
            return self._touch(calendar, event)

    def delete(
        self,
        calendar: Calendar,
        event_id: str,
        *,
        if_match: str | None = None,
        send_updates: str | None = None,
    ) -> Event:
        """events.delete: the event stays, `status: cancelled`; a second delete is 410."""
        with self.lock:
            event = self.event(calendar, event_id)
            if event.cancelled:
                raise GoogleError(410, "deleted", "Resource has been deleted")
            self._check_match(event, if_match)
            event.status = "cancelled"
            if send_updates is not None:
                event.send_updates = send_updates
            return self._touch(calendar, event)

    def invalidate_sync_tokens(self, calendar: Calendar) -> None:
        """Every sync token of the calendar answers 410 from now on."""
        with self.lock:
            calendar.nonce = secrets.token_hex(8)

    def dump(self) -> dict[str, Any]:
        """Accounts, calendars with their events, channels, refreshes for the control plane."""
        with self.lock:
            return {
                "accounts": [
                    {"email": a.email, "created": rfc3339(a.created), **self.oauth.dump(a.email)}
                    for a in self.accounts.values()
                ],
                "calendars": [
                    {
                        **c.list_entry(),
                        "owner": c.owner,
                        "changes": c.position,
                        "events": [
                            {
                                **e.to_json(),
                                "sandbox": {"sendUpdates": e.send_updates, "madeBy": e.made_by},
                            }
                            for e in c.events.values()
                        ],
                    }
                    for c in self.calendars.values()
                ],
                "channels": self.channels.dump(),
            }
