"""A coach's weekly hours and dated overrides, and the bookable slots they give."""

from __future__ import annotations

import re
import uuid
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request
from sqlmodel import col, delete

from app.db import iso, utcnow
from app.domain.availability import WEEKDAYS, Override, Rule, slots
from app.domain.busy import hours, taken
from app.errors import NotFound, ValidationFailed
from app.http.api import bp, schemas
from app.http.api.contract import contract
from app.http.api.params import as_datetime, as_int, as_timezone, as_uuid, body
from app.hub import hub
from app.models import AvailabilityOverride, AvailabilityRule, Coach

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_WINDOW = timedelta(days=62)


def _clock(value: Any, field: str) -> time:
    if not isinstance(value, str) or not _CLOCK.match(value):
        raise ValidationFailed(f"{field} must be a time HH:MM (00:00–24:00)", field=field)
    return time(0) if value == "24:00" else time(int(value[:2]), int(value[3:]))


def _span(item: dict[str, Any], field: str) -> tuple[time, time]:
    start, end = (
        _clock(item.get("start"), f"{field}.start"),
        _clock(item.get("end"), f"{field}.end"),
    )
    if end != time(0) and end <= start:
        raise ValidationFailed(f"{field}.end must be after {field}.start", field=f"{field}.end")
    return start, end


def _text(t: time) -> str:
    return t.strftime("%H:%M")


def _end_text(t: time) -> str:
    return "24:00" if t == time(0) else _text(t)


def _load(coach_id: uuid.UUID) -> tuple[Coach, list[Rule], list[Override]]:
    with hub().db.session() as db:
        coach = db.get(Coach, coach_id)
        if coach is None:
            raise NotFound("no such coach", field="coach_id")
        rules, overrides = hours(db, coach_id)
    return coach, rules, overrides


def _shape(coach: Coach, rules: list[Rule], overrides: list[Override]) -> dict[str, Any]:
    return {
        "timezone": coach.timezone,
        "rules": [
            {"weekday": WEEKDAYS[r.weekday], "start": _text(r.start), "end": _end_text(r.end)}
            for r in rules
        ],
        "overrides": [
            {
                "date": o.on.isoformat(),
                "available": o.available,
                **(
                    {"start": _text(o.start), "end": _end_text(o.end)}
                    if o.start is not None and o.end is not None
                    else {}
                ),
            }
            for o in overrides
        ],
    }


@bp.get("/coaches/<coach_id>/availability")
@contract({200: schemas.Availability}, errors=(404,), tag="availability")
def get_availability(coach_id: str) -> Response:
    """Weekly hours and overrides, in the coach's timezone."""
    return jsonify(_shape(*_load(as_uuid(coach_id, "coach_id"))))


@bp.put("/coaches/<coach_id>/availability")
@contract(
    {200: schemas.Availability}, body=schemas.AvailabilityUpdate, errors=(404,), tag="availability"
)
def put_availability(coach_id: str) -> Response:
    """Replace the weekly hours and overrides (and the coach's timezone if given)."""
    cid, data = as_uuid(coach_id, "coach_id"), body()
    zone = as_timezone(data["timezone"]) if "timezone" in data else None
    raw_rules, raw_overrides = data.get("rules", []), data.get("overrides", [])
    if not isinstance(raw_rules, list) or not isinstance(raw_overrides, list):
        raise ValidationFailed("rules and overrides must be lists", field="rules")
    rules: list[AvailabilityRule] = []
    for i, item in enumerate(raw_rules):
        if not isinstance(item, dict) or item.get("weekday") not in WEEKDAYS:
            raise ValidationFailed(
                f"rules[{i}].weekday must be one of {', '.join(WEEKDAYS)}",
                field=f"rules[{i}].weekday",
            )
        start, end = _span(item, f"rules[{i}]")
        rules.append(
            AvailabilityRule(
                coach_id=cid,
                weekday=WEEKDAYS.index(item["weekday"]),
                start_time=_text(start),
                end_time=_end_text(end),
            )
        )
    overrides: list[AvailabilityOverride] = []
    for i, item in enumerate(raw_overrides):
        field = f"overrides[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed(f"{field} must be an object", field=field)
        try:
            on = date.fromisoformat(str(item.get("date")))
        except ValueError as err:
            raise ValidationFailed(
                f"{field}.date must be YYYY-MM-DD", field=f"{field}.date"
            ) from err
        available = item.get("available", True)
        if not isinstance(available, bool):
            raise ValidationFailed(
                f"{field}.available must be true or false", field=f"{field}.available"
            )
        times = ("start" in item) or ("end" in item)
        if available and not times:
            raise ValidationFailed(f"{field}: extra hours need start and end", field=field)
        span: tuple[time, time] | None = _span(item, field) if times else None
        overrides.append(
            AvailabilityOverride(
                coach_id=cid,
                on_date=on,
                available=available,
                start_time=_text(span[0]) if span else None,
                end_time=_end_text(span[1]) if span else None,
            )
        )
    with hub().db.session() as db:
        coach = db.get(Coach, cid)
        if coach is None:
            raise NotFound("no such coach", field="coach_id")
        if zone:
            coach.timezone, coach.updated_at = zone, utcnow()
            db.add(coach)
        db.exec(delete(AvailabilityRule).where(col(AvailabilityRule.coach_id) == cid))
        db.exec(delete(AvailabilityOverride).where(col(AvailabilityOverride.coach_id) == cid))
        db.add_all([*rules, *overrides])
    return jsonify(_shape(*_load(cid)))


@bp.get("/coaches/<coach_id>/slots")
@contract({200: schemas.Slots}, query=schemas.SlotQuery, errors=(404,), tag="availability")
def get_slots(coach_id: str) -> Response:
    """Bookable start times in [from, to): hours minus sessions (± buffer), busy time, notice."""
    args = request.args
    start, end = as_datetime(args.get("from"), "from"), as_datetime(args.get("to"), "to")
    if end <= start:
        raise ValidationFailed("to must be after from", field="to")
    if end - start > MAX_WINDOW:
        raise ValidationFailed("the window may span at most 62 days", field="to")
    duration = timedelta(minutes=as_int(args.get("duration", "30"), "duration", low=5, high=720))
    step = timedelta(minutes=as_int(args.get("step", "30"), "step", low=5, high=720))
    cid = as_uuid(coach_id, "coach_id")
    now = utcnow()
    with hub().db.session() as db:  # one transaction: the coach, their hours, what is taken
        coach = db.get(Coach, cid)
        if coach is None:
            raise NotFound("no such coach", field="coach_id")
        rules, overrides = hours(db, cid)
        shown = ZoneInfo(as_timezone(args.get("tz", coach.timezone), "tz"))
        start = max(start, now)
        end = min(end, now + timedelta(days=coach.horizon_days))
        busy = (
            taken(db, cid, start, end, timedelta(minutes=coach.buffer_minutes))
            if start < end
            else []
        )
    found: list[tuple[Any, Any]] = []
    if start < end:
        found = slots(
            rules,
            overrides,
            ZoneInfo(coach.timezone),
            busy,
            start,
            end,
            duration,
            step,
            now + timedelta(minutes=coach.min_notice_minutes),
        )
    return jsonify(
        {
            "timezone": str(shown),
            "slots": [
                {"start": iso(s), "end": iso(e), "local_start": s.astimezone(shown).isoformat()}
                for s, e in found
            ],
        }
    )
