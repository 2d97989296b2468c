"""Coaches: create, find by e-mail, read, and change policy settings."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from sqlmodel import col, func, select

from app.db import utcnow
from app.domain.coaches import find_by_email
from app.errors import Conflict, NotFound, ValidationFailed
from app.http.api import bp, links, schemas
from app.http.api.contract import contract
from app.http.api.params import (
    as_int,
    as_timezone,
    as_uuid,
    body,
    decode_cursor,
    encode_cursor,
    limit,
)
from app.http.api.views import coach_json
from app.hub import hub
from app.models import Coach

_INT_POLICIES = {
    "cancellation_notice_minutes": (0, 60 * 24 * 60),
    "buffer_minutes": (0, 24 * 60),
    "min_notice_minutes": (0, 60 * 24 * 60),
    "horizon_days": (1, 730),
}


def _email(value: Any) -> str:
    if not isinstance(value, str) or "@" not in value or len(value) > 320 or " " in value.strip():
        raise ValidationFailed("email must be an e-mail address", field="email")
    return value.strip().lower()


def _apply_policies(coach: Coach, data: dict[str, Any]) -> None:
    known = {
        "timezone",
        "name",
        "reminder_offsets_minutes",
        "auto_confirm",
        "requires_payment",
        "calendar_delete_policy",
        "calcom_event_type_id",
        *_INT_POLICIES,
    }
    for key in data:
        if key not in known and key != "email":
            raise ValidationFailed(f"unknown field {key!r}", field=key)
    if "name" in data:
        if not isinstance(data["name"], str) or len(data["name"]) > 200:
            raise ValidationFailed("name must be text of at most 200 characters", field="name")
        coach.name = data["name"]
    if "timezone" in data:
        coach.timezone = as_timezone(data["timezone"])
    for key, (low, high) in _INT_POLICIES.items():
        if key in data:
            setattr(coach, key, as_int(data[key], key, low=low, high=high))
    if "reminder_offsets_minutes" in data:
        offsets = data["reminder_offsets_minutes"]
        if not isinstance(offsets, list) or len(offsets) > 10:
            raise ValidationFailed(
                "reminder_offsets_minutes must be a list of at most 10 numbers",
                field="reminder_offsets_minutes",
            )
        values = sorted(
            {as_int(v, "reminder_offsets_minutes", low=1, high=60 * 24 * 30) for v in offsets},
            reverse=True,
        )
        coach.reminder_offsets_minutes = values
    for key in ("auto_confirm", "requires_payment"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ValidationFailed(f"{key} must be true or false", field=key)
            setattr(coach, key, data[key])
    if "calcom_event_type_id" in data:
        value = data["calcom_event_type_id"]
        coach.calcom_event_type_id = (
            None if value is None else as_int(value, "calcom_event_type_id", low=1, high=2**31 - 1)
        )
    if "calendar_delete_policy" in data:
        if data["calendar_delete_policy"] not in ("flag", "cancel"):
            raise ValidationFailed(
                "calendar_delete_policy must be flag or cancel", field="calendar_delete_policy"
            )
        coach.calendar_delete_policy = data["calendar_delete_policy"]


@bp.post("/coaches")
@contract(
    {201: schemas.Coach},
    body=schemas.CoachCreate,
    errors=(409,),
    tag="coaches",
    links=links.of("coach_id", links.COACH),
)
def create_coach() -> tuple[Response, int]:
    """Create a coach: {"email", "name", "timezone"} plus any policy setting."""
    data = body()
    email = _email(data.get("email"))
    if "timezone" not in data:
        raise ValidationFailed("timezone is required (an IANA name)", field="timezone")
    with hub().db.session() as db:
        if find_by_email(db, email) is not None:
            raise Conflict(f"a coach with e-mail {email} exists already", field="email")
        coach = Coach(email=email)
        _apply_policies(coach, data)
        db.add(coach)
        db.flush()
        return jsonify(coach_json(coach)), 201


@bp.get("/coaches")
@contract(
    {200: schemas.CoachPage},
    query=schemas.CoachQuery,
    tag="coaches",
    links=links.of("coach_id", links.COACH, "$response.body#/items/0/id"),
)
def list_coaches() -> Response:
    """Coaches, optionally filtered by e-mail."""
    query = select(Coach)
    if request.args.get("email"):
        query = query.where(func.lower(Coach.email) == request.args["email"].strip().lower())
    cursor = decode_cursor(1)
    if cursor:
        query = query.where(col(Coach.email) > str(cursor[0]))
    size = limit()
    with hub().db.session() as db:
        rows = list(db.exec(query.order_by(col(Coach.email)).limit(size + 1)))
    page = rows[:size]
    nxt = encode_cursor([page[-1].email]) if len(rows) > size else None
    return jsonify({"items": [coach_json(c) for c in page], "next": nxt})


@bp.get("/coaches/<coach_id>")
@contract({200: schemas.Coach}, errors=(404,), tag="coaches")
def get_coach(coach_id: str) -> Response:
    """One coach."""
    with hub().db.session() as db:
        coach = db.get(Coach, as_uuid(coach_id, "coach_id"))
        if coach is None:
            raise NotFound("no such coach", field="coach_id")
        return jsonify(coach_json(coach))


@bp.patch("/coaches/<coach_id>")
@contract({200: schemas.Coach}, body=schemas.CoachUpdate, errors=(404,), tag="coaches")
def update_coach(coach_id: str) -> Response:
    """Change a coach's name, timezone or policy settings."""
    data = body()
    if "email" in data:
        raise ValidationFailed("email cannot be changed", field="email")
    with hub().db.session() as db:
        coach = db.get(Coach, as_uuid(coach_id, "coach_id"))
        if coach is None:
            raise NotFound("no such coach", field="coach_id")
        _apply_policies(coach, data)
        coach.updated_at = utcnow()
        db.add(coach)
        return jsonify(coach_json(coach))
