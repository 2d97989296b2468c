"""Cal.com `GET /v2/bookings` semantics: filters, sorting and take/skip pagination."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.sandbox.api import ApiError
from connectors.sandbox.models import Booking, parse_iso


def api_time(value: Any, field: str) -> datetime:
    """An ISO 8601 query or body value; ApiError 400 otherwise."""
    try:
        return parse_iso(value)
    except ValueError as err:
        raise ApiError(400, f"{field} must be an ISO 8601 date with an offset") from err


def status_filter(statuses: str, now: datetime) -> Callable[[Booking], bool]:
    """Cal.com's `status=upcoming,past,...` as one predicate."""
    wanted = {s.strip() for s in statuses.split(",") if s.strip()}
    checks: dict[str, Callable[[Booking], bool]] = {
        "upcoming": lambda b: b.end >= now and b.status in ("accepted", "pending"),
        "unconfirmed": lambda b: b.end >= now and b.status == "pending",
        "past": lambda b: b.end < now and b.status not in ("cancelled", "rejected"),
        "cancelled": lambda b: b.status in ("cancelled", "rejected"),
        "recurring": lambda b: False,
    }
    unknown = wanted - checks.keys()
    if unknown:
        raise ApiError(400, f"unknown status {sorted(unknown)[0]!r}")
    return lambda b: any(checks[s](b) for s in wanted)


def select(bookings: Iterable[Booking], args: Mapping[str, str], now: datetime) -> list[Booking]:
    """The bookings matching Cal.com's list filters, in the requested order."""
    tests: list[Callable[[Booking], bool]] = []
    if "afterUpdatedAt" in args:
        after = api_time(args["afterUpdatedAt"], "afterUpdatedAt")
        tests.append(lambda b: b.updated_at >= after)
    if "beforeUpdatedAt" in args:
        before = api_time(args["beforeUpdatedAt"], "beforeUpdatedAt")
        tests.append(lambda b: b.updated_at <= before)
    if "afterStart" in args:
        after_start = api_time(args["afterStart"], "afterStart")
        tests.append(lambda b: b.start >= after_start)
    if "beforeEnd" in args:
        before_end = api_time(args["beforeEnd"], "beforeEnd")
        tests.append(lambda b: b.end <= before_end)
    if args.get("status"):
        tests.append(status_filter(args["status"], now))
    if args.get("attendeeEmail"):
        email = args["attendeeEmail"].lower()
        tests.append(lambda b: any(a["email"].lower() == email for a in b.attendees))
    if args.get("bookingUid"):
        tests.append(lambda b: b.uid == args["bookingUid"])
    if args.get("eventTypeId"):
        tests.append(lambda b: str(b.event_type_id) == args["eventTypeId"])
    found = [b for b in bookings if all(t(b) for t in tests)]
    sorts: dict[str, Callable[[Booking], Any]] = {
        "sortUpdatedAt": lambda b: (b.updated_at, b.id),
        "sortStart": lambda b: (b.start, b.id),
        "sortCreated": lambda b: (b.created_at, b.id),
    }
    key, order = next(((k, args[k]) for k in sorts if k in args), ("sortStart", "asc"))
    if order not in ("asc", "desc"):
        raise ApiError(400, f"{key} must be asc or desc")
    found.sort(key=sorts[key], reverse=order == "desc")
    return found


def paginate(found: list[Booking], take: int, skip: int) -> tuple[list[Booking], dict[str, Any]]:
    """One page and Cal.com's `pagination` block."""
    page = found[skip : skip + take]
    total = len(found)
    return page, {
        "totalItems": total,
        "remainingItems": max(0, total - skip - len(page)),
        "returnedItems": len(page),
        "itemsPerPage": take,
        "currentPage": skip // take + 1 if take else 1,
        "totalPages": -(-total // take) if take else 1,
        "hasNextPage": skip + len(page) < total,
        "hasPreviousPage": skip > 0,
    }
