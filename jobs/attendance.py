"""What really happened in calls: derive outcomes, and keep Daily's webhook alive.

* `derive_attendance`: after the scheduled end plus a grace period, a confirmed video
  session becomes `completed` when coach and attendee both joined, `no_show` when the
  attendee never did; a coach who never joined is flagged for review (the coach decides).
* `daily_watchdog`: Daily stops sending to a webhook after 3 failed deliveries (state FAILED)
  until it is POSTed again. The watchdog re-activates it and backfills the calls that ended
  meanwhile from `GET /meetings`, through the same mapping as the webhooks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from app.db import utcnow
from app.domain.sessions import apply_change
from app.errors import HubError
from app.hub import Hub, hub
from app.kv import read_value, write_value
from app.models import ProviderLink, Session, SessionEvent
from app.sync import dispatch, plan
from connectors.base import Change
from connectors.daily.client import DailyClient
from connectors.daily.mapping import to_changes
from connectors.errors import ConnectorError

log = logging.getLogger(__name__)

GRACE = timedelta(minutes=15)
LOOKBACK = timedelta(days=7)
WATCH_STATE = "daily:webhook:state"
WATCH_OK_SINCE = "daily:webhook:ok_since"


def derive_attendance(now: datetime | None = None) -> int:
    """Settle the outcome of confirmed video sessions whose call is over; returns how many."""
    h = hub()
    now = now or utcnow()
    # deciding on missing events while Daily's webhook is failing would mark real calls as
    # no-shows: check the webhook first (re-activating and backfilling if Daily dropped it)
    daily_watchdog()
    with h.db.session() as db:
        if read_value(db, WATCH_STATE) == "FAILED":
            log.warning("Daily webhook is failing: outcomes wait for the backfill")
            return 0
        due = list(
            db.exec(
                select(Session.id)
                .join(ProviderLink, col(ProviderLink.session_id) == Session.id)
                .where(
                    Session.status == "confirmed",
                    Session.kind == "video",
                    Session.end_at < now - GRACE,
                    Session.end_at > now - LOOKBACK,
                    ProviderLink.provider == "daily",
                    ProviderLink.active,
                )
            )
        )
    return sum(1 for sid in due if _settle(h, sid, now))


def _settle(h: Hub, sid: Any, now: datetime) -> bool:
    with h.db.session() as db:
        session = db.get(Session, sid)
        if session is None or session.status != "confirmed":
            return False
        joined = {
            e.data.get("detail", {}).get("role")
            for e in db.exec(
                select(SessionEvent).where(
                    SessionEvent.session_id == sid, SessionEvent.kind == "participant_joined"
                )
            )
        }
        coach, attendee = "coach" in joined, "attendee" in joined
        if coach and attendee:
            change = _outcome(sid, now, "completed", attended=True)
        elif not attendee:
            change = _outcome(sid, now, "no_show", attended=False)
        else:  # the attendee came and the coach did not: a person has to decide
            if session.needs_review:
                return False
            session.needs_review = True
            db.add(session)
            db.add(
                SessionEvent(
                    session_id=sid,
                    kind="coach_absent",
                    source="hub",
                    version=session.version,
                    data={"occurred_at": now.isoformat()},
                )
            )
            return True
        try:
            applied = apply_change(db, change)
        except HubError as err:
            log.warning("outcome refused", extra={"session_id": str(sid), "reason": err.message})
            return False
        providers = plan(db, h, applied)
    dispatch(h, sid, providers)
    log.info("call outcome derived", extra={"session_id": str(sid), "status": change.status})
    return True


def _outcome(sid: Any, now: datetime, status: str, *, attended: bool) -> Change:
    from connectors.base import Attendance

    return Change(
        source="hub",
        external_id="",
        session_id=str(sid),
        event="outcome_derived",
        occurred_at=now,
        status=status,
        attendance=Attendance(attended=attended),
    )


def daily_watchdog() -> int:
    """Re-activate our Daily webhook when Daily has failed it; returns calls backfilled."""
    h = hub()
    api_key = h.settings.api_keys.get("daily")
    if not api_key:
        return 0
    client = DailyClient(api_key, h.settings.api_url("daily"))
    ours = f"{h.settings.public_url}/webhooks/daily"
    now = utcnow()
    try:
        hooks = [w for w in client.list_webhooks() if w.get("url") == ours]
    except ConnectorError as err:
        log.warning("cannot read Daily webhooks", extra={"reason": str(err)})
        return 0
    state = str(hooks[0].get("state", "")).upper() if hooks else "MISSING"
    with h.db.session() as db:
        ok_since = read_value(db, WATCH_OK_SINCE)
    if state in ("FAILED", "INACTIVE"):
        with h.db.session() as db:
            write_value(db, WATCH_STATE, "FAILED")
        client.reactivate_webhook(hooks[0])
        log.warning("Daily webhook was %s: re-activated", state.lower())
        since = datetime.fromisoformat(ok_since) if ok_since else now - timedelta(days=1)
        backfilled = backfill_calls(client, since)
        state = "ACTIVE"
    else:
        backfilled = 0
    with h.db.session() as db:
        write_value(db, WATCH_STATE, state)
        if state == "ACTIVE":
            write_value(db, WATCH_OK_SINCE, now.isoformat())
    return backfilled


def backfill_calls(client: DailyClient, since: datetime) -> int:
    """Feed the meetings of rooms whose session ended after `since` through the webhook mapping."""
    h = hub()
    with h.db.session() as db:
        rooms = list(
            db.exec(
                select(ProviderLink.external_id)
                .join(Session, col(Session.id) == ProviderLink.session_id)
                .where(
                    ProviderLink.provider == "daily",
                    ProviderLink.active,
                    col(ProviderLink.external_id).is_not(None),
                    Session.end_at > since - GRACE,
                    Session.start_at < utcnow(),
                )
            )
        )
    count = 0
    for room in rooms:
        for meeting in client.list_meetings(str(room), timeframe_start=since - GRACE):
            for body in meeting_bodies(meeting):
                for change in to_changes(body):
                    try:
                        with h.db.session() as db:
                            apply_change(db, change)
                    except HubError as err:
                        log.warning("backfill change refused", extra={"reason": err.message})
            count += 1
    return count


def meeting_bodies(meeting: dict[str, Any]) -> list[dict[str, Any]]:
    """Webhook-shaped bodies for one meeting from `GET /meetings`."""
    room, mid, start = meeting.get("room"), meeting.get("id"), meeting.get("start_time")
    if not room or not isinstance(start, int | float):
        return []
    bodies: list[dict[str, Any]] = [
        {"type": "meeting.started", "payload": {"room": room, "meeting_id": mid, "start_ts": start}}
    ]
    if not meeting.get("ongoing") and isinstance(meeting.get("duration"), int | float):
        bodies.append(
            {
                "type": "meeting.ended",
                "payload": {
                    "room": room,
                    "meeting_id": mid,
                    "start_ts": start,
                    "end_ts": start + meeting["duration"],
                },
            }
        )
    for p in meeting.get("participants") or []:
        joined = p.get("join_time")
        if not isinstance(joined, int | float):
            continue
        who = {
            "room": room,
            "session_id": p.get("participant_id"),
            "user_id": p.get("user_id"),
            "user_name": p.get("user_name"),
            "joined_at": joined,
            "owner": False,
        }
        bodies.append({"type": "participant.joined", "payload": who})
        if isinstance(p.get("duration"), int | float):
            bodies.append(
                {"type": "participant.left", "payload": {**who, "duration": p["duration"]}}
            )
    return bodies
