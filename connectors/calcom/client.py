"""Cal.com API v2 client: the REST calls and nothing else, through connectors.http."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.calcom import const
from connectors.calcom.mapping import iso_utc
from connectors.errors import PermanentError
from connectors.http import BearerClient, seconds_until

MAX_TAKE = 250  # GetBookingsInput_2024_08_13: @Max(250)
METADATA_MAX_KEYS, METADATA_MAX_KEY, METADATA_MAX_VALUE = 50, 40, 500


def rate_limit_reset(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until Cal.com lifts a 429, from its `X-RateLimit-Reset-<Name>` headers.

    Each named limit sends its own headers; a request passes again as soon as one blocked
    limit resets, so the shortest reset among exhausted limits wins (all resets if none is
    marked exhausted). Values are seconds to go; epoch values are accepted too.
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    resets: dict[str, float] = {}
    for name, value in lowered.items():
        if name.startswith(const.RATE_LIMIT_RESET_PREFIX):
            wait = seconds_until(value, now)
            if wait is not None:
                resets[name.removeprefix(const.RATE_LIMIT_RESET_PREFIX)] = wait
    if not resets:
        return None
    remaining = const.RATE_LIMIT_REMAINING_PREFIX
    exhausted = [w for n, w in resets.items() if lowered.get(remaining + n, "").strip() == "0"]
    return min(exhausted) if exhausted else max(resets.values())


def _check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Cal.com's booking metadata limits: 50 keys, keys up to 40 chars, values up to 500."""
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValueError(f"metadata has more than {METADATA_MAX_KEYS} keys")
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY or len(str(value)) > METADATA_MAX_VALUE:
            raise ValueError(f"metadata entry {key[:40]!r} exceeds Cal.com's limits")
    return {key: str(value) for key, value in metadata.items()}


class CalcomClient(BearerClient):
    """Cal.com API v2: bookings and slots, with the API version pinned per endpoint."""

    slug = const.SLUG
    default_base_url = const.API_BASE_URL
    auth_statuses = const.AUTH_STATUSES

    def retry_hint(self, headers: Mapping[str, str], now: datetime) -> float | None:
        """Cal.com names its reset per limit: X-RateLimit-Reset-<Name>."""
        return rate_limit_reset(headers, now)

    def _call(
        self,
        method: str,
        path: str,
        *,
        version: str = const.BOOKINGS_API_VERSION,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        ok: Collection[int] = (200, 201),
        idempotent: bool | None = None,
    ) -> Any:
        """Send one call and unwrap Cal.com's `{"status": "success", "data": ...}` envelope."""
        headers = {const.API_VERSION_HEADER: version}
        body = self.http.json(
            method, path, json=json, params=params, headers=headers, ok=ok, idempotent=idempotent
        )
        if body.get("status") == "error":
            raise PermanentError(f"calcom {method} {path}: error status in a 2xx response")
        return body.get("data", body)

    @staticmethod
    def _booking_path(uid: str, action: str = "") -> str:
        path = f"/bookings/{quote(uid, safe='')}"
        return f"{path}/{action}" if action else path

    @staticmethod
    def _booking(data: Any, uid: str | None = None, *, strict: bool = True) -> dict[str, Any]:
        """The booking object in `data`; lenient (maybe {}) after an action that succeeded."""
        if isinstance(data, list):  # a recurring booking uid answers with every occurrence
            mine = [b for b in data if isinstance(b, dict) and uid in (None, b.get("uid"))]
            data = mine[0] if mine else None
        if isinstance(data, dict):
            return data
        if strict:
            raise PermanentError("calcom: response holds no booking object")
        return {}

    def _act(self, uid: str, action: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a state-setting action; repeating it leaves the same state, so retries are safe."""
        path = self._booking_path(uid, action)
        data = self._call("POST", path, json=body, ok=(200, 201), idempotent=True)
        return self._booking(data, uid, strict=False)

    def get_booking(self, uid: str) -> dict[str, Any]:
        """GET /v2/bookings/{uid}."""
        return self._booking(self._call("GET", self._booking_path(uid)), uid)

    def list_bookings(
        self,
        after_updated_at: datetime | None = None,
        take: int = 100,
        *,
        attendee_email: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every booking updated after a moment, oldest update first, paging with take/skip."""
        take = max(1, min(take, MAX_TAKE))
        params: dict[str, Any] = {"take": take, "sortUpdatedAt": "asc"}
        if attendee_email:
            params["attendeeEmail"] = attendee_email
        if after_updated_at is not None:
            params["afterUpdatedAt"] = iso_utc(after_updated_at)
        skip = 0
        while True:
            page = self._call("GET", "/bookings", params={**params, "skip": skip})
            if not isinstance(page, list):
                raise PermanentError("calcom GET /bookings: data is not a list")
            yield from (b for b in page if isinstance(b, dict))
            if len(page) < take:
                return
            skip += take

    def create_booking(
        self,
        *,
        start: datetime,
        event_type_id: int,
        attendee_name: str,
        attendee_email: str,
        attendee_time_zone: str,
        guests: Iterable[str] = (),
        location: Mapping[str, Any] | str | None = None,
        length_in_minutes: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST /v2/bookings (HTTP 201); metadata tags the booking as ours (echo suppression)."""
        attendee = {"name": attendee_name, "email": attendee_email, "timeZone": attendee_time_zone}
        body: dict[str, Any] = {
            "start": iso_utc(start),
            "eventTypeId": event_type_id,
            "attendee": attendee,
        }
        if guest_list := list(guests):
            body["guests"] = guest_list
        if location is not None:
            body["location"] = location
        if length_in_minutes is not None:
            body["lengthInMinutes"] = length_in_minutes
        if metadata:
            body["metadata"] = _check_metadata(metadata)
        return self._booking(self._call("POST", "/bookings", json=body, ok=(201, 200)))

    def cancel_booking(self, uid: str, reason: str | None = None) -> dict[str, Any]:
        """POST /v2/bookings/{uid}/cancel."""
        body = {"cancellationReason": reason} if reason else {}
        return self._act(uid, "cancel", body)

    def reschedule_booking(
        self,
        uid: str,
        start: datetime,
        reason: str | None = None,
        rescheduled_by: str | None = None,
    ) -> dict[str, Any]:
        """POST /v2/bookings/{uid}/reschedule; returns the NEW booking (new uid, HTTP 201)."""
        body: dict[str, Any] = {"start": iso_utc(start)}
        if reason:
            body["reschedulingReason"] = reason
        if rescheduled_by:
            body["rescheduledBy"] = rescheduled_by
        path = self._booking_path(uid, "reschedule")
        return self._booking(self._call("POST", path, json=body, ok=(201, 200)))

    def confirm_booking(self, uid: str) -> dict[str, Any]:
        """POST /v2/bookings/{uid}/confirm (a booking that requires confirmation)."""
        return self._act(uid, "confirm")

    def decline_booking(self, uid: str, reason: str | None = None) -> dict[str, Any]:
        """POST /v2/bookings/{uid}/decline."""
        body = {"reason": reason} if reason else {}
        return self._act(uid, "decline", body)

    def mark_absent(
        self, uid: str, host: bool = False, attendees: Iterable[Mapping[str, Any]] = ()
    ) -> dict[str, Any]:
        """POST /v2/bookings/{uid}/mark-absent with `[{"email", "absent"}]` per attendee."""
        body: dict[str, Any] = {"host": host}
        marks = [{"email": str(a["email"]), "absent": bool(a["absent"])} for a in attendees]
        if marks:  # Cal.com refuses an empty attendees array (@ArrayMinSize(1))
            body["attendees"] = marks
        return self._act(uid, "mark-absent", body)

    def get_slots(
        self,
        event_type_id: int,
        start: datetime,
        end: datetime,
        time_zone: str | None = None,
        duration: int | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """GET /v2/slots: free slots by day, `{"2050-09-05": [{"start": ...}, ...]}`."""
        params: dict[str, Any] = {
            "eventTypeId": event_type_id,
            "start": iso_utc(start),
            "end": iso_utc(end),
        }
        if time_zone:
            params["timeZone"] = time_zone
        if duration:
            params["duration"] = duration
        data = self._call("GET", "/slots", version=const.SLOTS_API_VERSION, params=params)
        if not isinstance(data, dict):
            raise PermanentError("calcom GET /slots: data is not an object")
        return {day: list(slots) for day, slots in data.items() if isinstance(slots, list)}
