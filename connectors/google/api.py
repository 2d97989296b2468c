"""One Google account's calendars through googleapiclient: calendars, change feed, channels."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.http import BatchHttpRequest

from connectors.calendar import (
    CalendarApi,
    CalendarInfo,
    ChangePage,
    Channel,
    SyncCursorExpired,
    readable_events,
)
from connectors.errors import NotFound, PermanentError
from connectors.google import const
from connectors.google.calls import Caller
from connectors.google.mapping import parse_time, rfc3339, to_calendar_event
from connectors.google.outbound import GoogleOutbound

Interval = tuple[datetime, datetime]


def base_url(api_url: str | None) -> str:
    """The configured API base without a trailing slash (the real one by default)."""
    return (api_url or const.API_URL).rstrip("/")


def _ms_to_utc(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted intervals with overlapping or touching ones joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class _Unbound:
    """The http the shared service is built with: each call brings its account's own."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a Calendar API call needs the account's authorized http")


class _Service:
    """The Calendar API's resources, built once per process and host.

    googleapiclient builds a resource's methods (and their docstrings) on every
    `service.events()`: ~15 ms of CPU each, several per job. Built once here, unbound; every
    request runs with the calling account's authorized http (`HttpRequest.execute(http=…)`).
    """

    def __init__(self, base: str) -> None:
        self._service = build(
            "calendar",
            "v3",
            http=_Unbound(),
            static_discovery=True,
            cache_discovery=False,  # the document ships with the library: nothing to cache
            client_options={"api_endpoint": base + const.SERVICE_PATH},
        )
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        def resource() -> Any:
            found = self._made.get(name)
            if found is None:
                with self._lock:
                    found = self._made.get(name) or getattr(self._service, name)()
                    self._made[name] = found
            return found

        return resource


_services: dict[str, _Service] = {}
_services_lock = threading.Lock()
_local = threading.local()


def _service(base: str) -> _Service:
    found = _services.get(base)
    if found is None:
        with _services_lock:
            found = _services.get(base) or _Service(base)
            _services[base] = found
    return found


def _thread_http(timeout: float) -> httplib2.Http:
    """This thread's httplib2 connection pool (httplib2 is not thread-safe): consecutive jobs
    reuse the TCP/TLS connection to Google instead of a new handshake each."""
    pools: dict[float, httplib2.Http] = _local.__dict__.setdefault("pools", {})
    if timeout not in pools:
        pools[timeout] = httplib2.Http(timeout=timeout)
    return pools[timeout]


class GoogleCalendarApi(CalendarApi):
    """Calendar API v3 calls for one access token (never refreshed here: the hub does that).

    `api_url` replaces https://www.googleapis.com for every call: the service's
    `api_endpoint` for normal calls, and an explicit batch URI, because
    `new_batch_http_request()` always uses the discovery document's rootUrl
    (googleapis/google-api-python-client#1107).
    """

    def __init__(
        self,
        access_token: str,
        api_url: str | None = None,
        *,
        http: Any = None,
        caller: Caller | None = None,
        timeout: float = 30.0,
    ) -> None:
        base = base_url(api_url)
        self.batch_uri = base + const.BATCH_PATH
        self.caller = caller or Caller()
        # no refresh on 401: the token came from the hub, which refreshes under a lock, so a
        # 401 surfaces as AuthError instead of a refresh attempt without a refresh token
        self.http = google_auth_httplib2.AuthorizedHttp(
            Credentials(access_token),  # type: ignore[no-untyped-call]
            http=http if http is not None else _thread_http(timeout),
            max_refresh_attempts=0,
        )
        self.service: Any = _service(base)

    def execute(self, what: str, request: Any, *, idempotent: bool = True) -> dict[str, Any]:
        """Run a request of the shared service with this account's authorized http."""
        return self.caller.execute(what, request, idempotent=idempotent, http=self.http)

    def new_batch(self, callback: Any) -> BatchHttpRequest:
        """A batch request to the configured host (rootUrl of the discovery doc is ignored)."""
        return BatchHttpRequest(callback=callback, batch_uri=self.batch_uri)

    def account_email(self) -> str:
        """The primary calendar's id, which is the account's e-mail."""
        found = self.execute(
            "calendars.get primary", self.service.calendars().get(calendarId="primary")
        )
        email = found.get("id")
        if not isinstance(email, str) or not email:
            raise PermanentError("google calendars.get primary: no id in the response")
        return email

    def list_calendars(self) -> list[CalendarInfo]:
        """Every calendar in the account's calendar list (all pages)."""
        found: list[CalendarInfo] = []
        page: str | None = None
        seen: set[str] = set()
        while True:
            request = self.service.calendarList().list(maxResults=const.PAGE_SIZE, pageToken=page)
            answer = self.execute("calendarList.list", request)
            for item in answer.get("items") or []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    found.append(
                        CalendarInfo(
                            id=item["id"],
                            name=str(item.get("summaryOverride") or item.get("summary") or ""),
                            primary=item.get("primary") is True,
                            writable=item.get("accessRole") in const.WRITABLE_ROLES,
                        )
                    )
            page = answer.get("nextPageToken")
            if not isinstance(page, str) or not page or page in seen:
                return found
            seen.add(page)

    def changes(
        self, calendar_id: str, cursor: str | None, window: tuple[datetime, datetime]
    ) -> ChangePage:
        """Every change since `cursor` (all pages), or a full sync of `window` without one.

        The same parameters are sent both ways (singleEvents, showDeleted, maxResults) except
        those a syncToken forbids (timeMin, timeMax); an expired cursor (410) raises
        SyncCursorExpired (https://developers.google.com/calendar/api/guides/sync).
        """
        params: dict[str, Any] = {
            "calendarId": calendar_id,
            "singleEvents": True,
            "showDeleted": True,
            "maxResults": const.PAGE_SIZE,
        }
        if cursor:
            params["syncToken"] = cursor
        else:
            params["timeMin"], params["timeMax"] = rfc3339(window[0]), rfc3339(window[1])
        events = []
        seen: set[str] = set()
        while True:
            try:
                answer = self.execute("events.list", self.service.events().list(**params))
            except NotFound as err:
                if cursor and err.status == 410:
                    raise SyncCursorExpired("google events.list -> 410: full sync needed") from err
                raise
            items = answer.get("items") or []
            events += readable_events(const.SLUG, calendar_id, items, to_calendar_event)
            page = answer.get("nextPageToken")
            if isinstance(page, str) and page and page not in seen:
                seen.add(page)
                params["pageToken"] = page
                continue
            sync = answer.get("nextSyncToken")
            return ChangePage(tuple(events), sync if isinstance(sync, str) and sync else None)

    def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str, expires_at: datetime
    ) -> Channel:
        """Open a push channel on the calendar's events; the expiry is what Google granted."""
        body = {
            "id": channel_id,
            "type": "web_hook",
            "address": address,
            "token": token,
            "expiration": int(expires_at.timestamp() * 1000),
        }
        request = self.service.events().watch(calendarId=calendar_id, body=body)
        # a repeated watch would open a second channel: retried only when surely unsent
        answer = self.execute("events.watch", request, idempotent=False)
        resource = answer.get("resourceId")
        if not isinstance(resource, str) or not resource:
            raise PermanentError("google events.watch: no resourceId in the response")
        granted = _ms_to_utc(answer.get("expiration")) or expires_at
        return Channel(
            id=str(answer.get("id") or channel_id), resource_id=resource, expires_at=granted
        )

    def stop(self, channel_id: str, resource_id: str) -> None:
        """Close a push channel; one Google no longer knows is fine."""
        request = self.service.channels().stop(body={"id": channel_id, "resourceId": resource_id})
        try:
            self.execute("channels.stop", request)
        except NotFound:
            return

    def writer(self, calendar_id: str, options: Mapping[str, Any]) -> GoogleOutbound:
        """The writer of sessions into one calendar (options: send_updates, invite_attendee)."""
        return GoogleOutbound(self, calendar_id, options)

    def free_busy(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[Interval]:
        """Busy intervals (aware UTC, merged) of the calendars between start and end."""
        busy: list[Interval] = []
        ids = list(dict.fromkeys(calendar_ids))
        for at in range(0, len(ids), const.FREEBUSY_CALENDARS):
            chunk = ids[at : at + const.FREEBUSY_CALENDARS]
            body = {
                "timeMin": rfc3339(start),
                "timeMax": rfc3339(end),
                "timeZone": "UTC",
                "items": [{"id": c} for c in chunk],
            }
            answer = self.execute("freeBusy", self.service.freebusy().query(body=body))
            calendars = answer.get("calendars") or {}
            for cid in chunk:
                found = calendars.get(cid) or {}
                errors = found.get("errors") or []
                if errors:
                    reason = errors[0].get("reason", "error") if isinstance(errors[0], dict) else ""
                    raise PermanentError(f"google freeBusy: calendar not readable: {reason}")
                for slot in found.get("busy") or []:
                    busy.append((parse_time(slot["start"]), parse_time(slot["end"])))
        return merge(busy)
