"""Reading and validating request parameters; errors name the field."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import request

from app.db import iso
from app.errors import ValidationFailed

__all__ = ["iso"]

MAX_LIMIT = 200
#: numeric ids (deliveries, events, outbound messages) are 32-bit integer columns
MAX_ID = 2**31 - 1
#: the span of accepted date-times
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def body() -> dict[str, Any]:
    """The JSON object body of the request."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed("the request body must be a JSON object", field="body")
    return data


def as_uuid(value: Any, field: str) -> uuid.UUID:
    """A UUID, or 400 naming the field."""
    try:
        return uuid.UUID(str(value))
    except ValueError as err:
        raise ValidationFailed(f"{field} must be a UUID", field=field) from err


def as_datetime(value: Any, field: str) -> datetime:
    """An ISO-8601 date-time with an offset or Z, as aware UTC."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be an ISO-8601 date-time string", field=field)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError as err:
        raise ValidationFailed(f"{field} is not an ISO-8601 date-time", field=field) from err
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{field} needs an offset or Z", field=field)
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError as err:
        raise ValidationFailed(f"{field} is out of range", field=field) from err
    if not EARLIEST <= utc <= LATEST:
        # date arithmetic (buffers, horizons, series) must stay inside datetime's range
        raise ValidationFailed(
            f"{field} must be between {EARLIEST.year} and {LATEST.year}", field=field
        )
    return utc


def as_timezone(value: Any, field: str = "timezone") -> str:
    """A valid IANA timezone name."""
    if not isinstance(value, str) or not value:
        raise ValidationFailed(f"{field} must be an IANA timezone name", field=field)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValidationFailed(f"{value!r} is not a known IANA timezone", field=field) from err
    return value


def as_int(value: Any, field: str, *, low: int = 0, high: int = 10**6) -> int:
    """A whole number within bounds."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"{field} must be a whole number", field=field)
    try:
        number = int(value)
    except ValueError as err:
        raise ValidationFailed(f"{field} must be a whole number", field=field) from err
    if not low <= number <= high:
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return number


def limit() -> int:
    """`?limit=` (default 50, at most 200)."""
    raw = request.args.get("limit")
    return 50 if raw is None else as_int(raw, "limit", low=1, high=MAX_LIMIT)


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(expected: int) -> list[Any] | None:
    """`?cursor=` decoded, or None."""
    raw = request.args.get("cursor")
    if not raw:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError) as err:
        raise ValidationFailed("cursor is not valid", field="cursor") from err
    if not isinstance(values, list) or len(values) != expected or nul_field(values):
        raise ValidationFailed("cursor is not valid", field="cursor")
    return values


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text holding a NUL character (PostgreSQL cannot store one)."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = nul_field(key, path or "body") or nul_field(
                item, f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_field(item, f"{path or 'body'}[{i}]")
            if found:
                return found
    return None


def refuse_nul() -> None:
    """400 when a query parameter or the JSON body holds a NUL character."""
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise ValidationFailed(f"{name} must not contain NUL characters", field=name)
    if request.is_json:
        found = nul_field(request.get_json(silent=True))
        if found:
            raise ValidationFailed(f"{found} must not contain NUL characters", field=found)
