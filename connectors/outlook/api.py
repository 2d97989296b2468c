"""One Outlook mailbox through Graph REST: calendars, delta feed, subscriptions, free/busy."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.calendar import (
    CalendarApi,
    CalendarEvent,
    CalendarInfo,
    ChangePage,
    Channel,
    SyncCursorExpired,
    readable_events,
)
from connectors.errors import NotFound, PermanentError
from connectors.http import HttpClient
from connectors.outlook import const
from connectors.outlook.calls import error_code, error_for, graph_client, segment
from connectors.outlook.mapping import parse_time, to_calendar_event
from connectors.outlook.outbound import OutlookOutbound

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Interval = tuple[datetime, datetime]

_NON_BLOCKING = frozenset({"free", "workingElsewhere"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """An aware datetime as Graph's ISO form in UTC (`2026-03-02T09:00:00Z`)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(intervals: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class OutlookCalendarApi(CalendarApi):
    """Graph v1.0 calls for one access token (never refreshed here: the hub does that).

    Every request carries `Prefer: IdType="ImmutableId", outlook.timezone="UTC"` and holds
    one of the mailbox's 4 slots (`calls.mailbox_slots`); 429 Retry-After is honoured by
    HttpClient, 401 raises AuthError.
    """

    def __init__(
        self,
        access_token: str,
        api_url: str | None = None,
        *,
        ca_bundle: str | None = None,
        mailbox: str | None = None,
        client: HttpClient | None = None,
        clock: Clock = _utcnow,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        options: dict[str, Any] = {"clock": clock}
        if sleep is not None:
            options["sleep"] = sleep
        self.client = client or graph_client(
            access_token, api_url, ca_bundle=ca_bundle, mailbox=mailbox, **options
        )
        self.clock = clock

    def account_email(self) -> str:
        """The mailbox address (`mail`, else `userPrincipalName`) of the signed-in user."""
        me = self.client.json("GET", "/me")
        email = me.get("mail") or me.get("userPrincipalName")
        if not isinstance(email, str) or not email:
            raise PermanentError("outlook GET /me: no mail or userPrincipalName")
        return email

    def list_calendars(self) -> list[CalendarInfo]:
        """Every calendar of the mailbox (following @odata.nextLink)."""
        found = []
        for item in self._pages("/me/calendars"):
            if isinstance(item.get("id"), str):
                found.append(
                    CalendarInfo(
                        id=item["id"],
                        name=str(item.get("name") or ""),
                        primary=item.get("isDefaultCalendar") is True,
                        writable=item.get("canEdit") is True,
                    )
                )
        return found

    def changes(
        self, calendar_id: str, cursor: str | None, window: tuple[datetime, datetime]
    ) -> ChangePage:
        """Every change since the delta link `cursor`, or a full delta of `window` without one.

        Pages are followed (@odata.nextLink) to the @odata.deltaLink, the next cursor. Items
        outside the window come as `@removed` and are kept (the hub filters). Delta supports
        no $expand, so events carry no session tags: the hub finds its events by id
        (provider links) and echoes by changeKey; `event()` reads one event with its tag.
        """
        if cursor:
            url = self._own(cursor)
            params: dict[str, str] | None = None
        else:
            url = f"/me/calendars/{segment(calendar_id)}/calendarView/delta"
            params = {"startDateTime": iso_utc(window[0]), "endDateTime": iso_utc(window[1])}
        events: list[CalendarEvent] = []
        seen: set[str] = set()
        while True:
            page = self._delta_page(url, params)
            items = page.get("value") or []
            events += readable_events(const.SLUG, calendar_id, items, to_calendar_event)
            following = page.get("@odata.nextLink")
            if isinstance(following, str) and following and following not in seen:
                seen.add(following)
                url, params = self._own(following), None
                continue
            delta = page.get("@odata.deltaLink")
            return ChangePage(tuple(events), delta if isinstance(delta, str) and delta else None)

    def event(self, calendar_id: str, event_id: str) -> CalendarEvent | None:
        """One event with the hub's tag expanded, or None when it is gone."""
        path = f"/me/calendars/{segment(calendar_id)}/events/{segment(event_id)}"
        try:
            item = self.client.json("GET", path, params={"$expand": const.EXPAND_TAG})
        except NotFound:
            return None
        return to_calendar_event(calendar_id, item)

    def watch(
        self, calendar_id: str, channel_id: str, token: str, address: str, expires_at: datetime
    ) -> Channel:
        """Subscribe to the calendar's events; Graph names the subscription and its expiry."""
        resource = f"/me/calendars/{calendar_id}/events"
        body = {
            "changeType": const.CHANGE_TYPES,
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": resource,
            "expirationDateTime": iso_utc(self._capped(expires_at)),
            "clientState": token,
        }
        # a repeated POST would open a second subscription: retried only when surely unsent
        answer = self.client.json("POST", "/subscriptions", json=body, idempotent=False)
        ident = answer.get("id")
        if not isinstance(ident, str) or not ident:
            raise PermanentError("outlook POST /subscriptions: no id in the response")
        logger.info("outlook subscription opened", extra={"channel_id": channel_id})
        return Channel(id=ident, resource_id=resource, expires_at=self._granted(answer, body))

    def renew(self, subscription_id: str, expires_at: datetime) -> datetime:
        """Extend a subscription (PATCH); returns the expiry Graph granted."""
        body = {"expirationDateTime": iso_utc(self._capped(expires_at))}
        path = f"/subscriptions/{segment(subscription_id)}"
        answer = self.client.json("PATCH", path, json=body, idempotent=True)
        return self._granted(answer, body)

    def reauthorize(self, subscription_id: str) -> None:
        """Answer a `reauthorizationRequired` lifecycle event."""
        path = f"/subscriptions/{segment(subscription_id)}/reauthorize"
        self.client.request("POST", path, idempotent=True)

    def stop(self, channel_id: str, resource_id: str) -> None:
        """Delete a subscription; one Graph no longer knows is fine."""
        try:
            self.client.request("DELETE", f"/subscriptions/{segment(channel_id)}")
        except NotFound:
            return

    def writer(self, calendar_id: str, options: Mapping[str, Any]) -> OutlookOutbound:
        """The writer of sessions into one calendar (options: invite_attendee)."""
        return OutlookOutbound(self, calendar_id, options)

    def free_busy(self, schedules: Sequence[str], start: datetime, end: datetime) -> list[Interval]:
        """Busy intervals (aware UTC, merged) of the mailboxes between start and end."""
        body = {
            "schedules": list(dict.fromkeys(schedules)),
            "startTime": {"dateTime": iso_utc(start)[:-1], "timeZone": "UTC"},
            "endTime": {"dateTime": iso_utc(end)[:-1], "timeZone": "UTC"},
        }
        answer = self.client.json("POST", "/me/calendar/getSchedule", json=body, idempotent=True)
        busy = []
        for schedule in answer.get("value") or []:
            if not isinstance(schedule, dict):
                continue
            if isinstance(schedule.get("error"), dict):
                raise PermanentError("outlook getSchedule: a schedule is not readable")
            for item in schedule.get("scheduleItems") or []:
                if not isinstance(item, dict) or item.get("status") in _NON_BLOCKING:
                    continue
                start_at, end_at = item.get("start") or {}, item.get("end") or {}
                busy.append(
                    (
                        parse_time(start_at.get("dateTime"), start_at.get("timeZone")),
                        parse_time(end_at.get("dateTime"), end_at.get("timeZone")),
                    )
                )
        return _merge(busy)

    # --- helpers --------------------------------------------------------------------------

    def _pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url, seen = path, set()
        while True:
            page = self.client.json("GET", url)
            items += [i for i in page.get("value") or [] if isinstance(i, dict)]
            following = page.get("@odata.nextLink")
            if not isinstance(following, str) or not following or following in seen:
                return items
            seen.add(following)
            url = self._own(following)

    def _delta_page(self, url: str, params: Mapping[str, str] | None) -> dict[str, Any]:
        """One delta page; 410 or a resync code (400 syncStateNotFound...) → SyncCursorExpired."""
        response = self.client.request("GET", url, params=params, ok=(200, 400, 410))
        if response.status_code == 200:
            try:
                body = response.json() if response.content else {}
            except ValueError as err:
                raise PermanentError("outlook delta: response is not JSON", 200) from err
            return body if isinstance(body, dict) else {}
        try:
            detail: Any = response.json()
        except ValueError:
            detail = {}
        code = error_code(detail)
        if response.status_code == 410 or code in const.RESYNC_CODES:
            raise SyncCursorExpired(f"outlook delta -> {response.status_code} {code}".rstrip())
        raise error_for(response.status_code, response.headers, detail, "GET delta")

    def _own(self, link: str) -> str:
        """A link Graph returned, refused unless it points at the configured API host.

        The bearer token travels with it, so a stored cursor never sends it elsewhere.
        """
        base, target = urlsplit(self.client.base_url), urlsplit(link)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise PermanentError("outlook: a paging link points at another host")
        return link

    def _capped(self, expires_at: datetime) -> datetime:
        limit = self.clock() + timedelta(minutes=const.MAX_SUBSCRIPTION_MINUTES)
        return min(expires_at, limit)

    def _granted(self, answer: Mapping[str, Any], body: Mapping[str, str]) -> datetime:
        value = answer.get("expirationDateTime") or body["expirationDateTime"]
        return parse_time(value)
