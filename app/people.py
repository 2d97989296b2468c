"""Personal data of one attendee or prospect, found by e-mail: export, erasure, tombstones.

What the hub holds about a person:
- sessions where they are the attendee (`sessions.attendee_email`, stored lower-case, indexed),
  with their timelines; sessions where they are a guest (`sessions.guests`, a JSON scan);
- webhook deliveries linked to those sessions (`webhook_deliveries.session_id`, indexed) or whose
  raw body mentions the e-mail;
- outbound messages whose payload mentions the e-mail.

Finding bodies that mention an e-mail is a scan, bounded on purpose: bodies older than the
retention (`SESSIONHUB_DELIVERY_RETENTION_DAYS`) are replaced by a tombstone by the retention
sweep, which keeps a cursor below which every body is a tombstone. Only the rows above that
cursor (the retention window) are scanned, in id ranges, with the match done by the database
(a case-insensitive LIKE) so bodies are not shipped to the hub. With retention 0 (keep
forever) the scan covers the whole inbox.

Erasure keeps the facts the coach's history needs (times, status, coach, kind, payment,
attendance, provider links) and removes the rest. It never bumps a session's version nor marks
provider links pending: nothing is written to a provider because of an erasure, and the
providers keep their own copy (the answer's `note` says so).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session as Db
from sqlmodel import col, select

from app.db import iso, utcnow
from app.hub import Hub
from app.kv import read_value
from app.models import (
    ErasureLog,
    OutboundMessage,
    ProviderLink,
    Reminder,
    Session,
    SessionEvent,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

#: what erasure in the hub does not reach (returned with every export and erasure)
NOTE = (
    "This covers the hub's own copy only. The providers keep theirs (Cal.com bookings, Google "
    "and Outlook calendar events and invitations, Daily rooms and recordings, Stripe payments) "
    "and so does the platform: erase the person there too. A later change a provider sends "
    "about one of these bookings brings back what that provider still holds."
)
#: kv_state names of the retention sweep's cursors: every row with id <= cursor has no body
INBOX_CURSOR = "retention:webhook_deliveries"
OUTBOX_CURSOR = "retention:outbound_messages"
#: rows per database round-trip when scanning or rewriting
BATCH = 200
#: ids per range when the database scans bodies for an e-mail
SCAN_RANGE = 5000
#: keys whose values are about a person wherever they appear in a timeline or payload
PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "user_name",
        "username",
        "message",
        "phone",
        "attendee_email",
        "attendee_name",
        "cancelledByEmail",
        "responses",
    }
)
#: a well-formed enough e-mail: one @, something either side, no spaces
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL = 320


def normalise(email: str) -> str:
    """The form the hub stores e-mails in (trimmed, lower-case)."""
    return email.strip().lower()


def is_email(email: str) -> bool:
    """Whether a normalised value can be an e-mail address."""
    return 0 < len(email) <= MAX_EMAIL and _EMAIL.match(email) is not None


def subject_hash(secret_key: str, email: str) -> str:
    """Keyed hash of an e-mail: recomputable by the hub, not guessable from a word list."""
    return hmac.new(secret_key.encode(), normalise(email).encode(), hashlib.sha256).hexdigest()


def marker(secret_key: str, email: str) -> str:
    """The tombstone left in place of a person's identity: `erased:<12 hex>`."""
    return "erased:" + subject_hash(secret_key, email)[:12]


def tombstone_body(kind: str) -> bytes:
    """A body that replaced a raw one: `{"erased": true, "at": …}` or `{"purged": …}`."""
    return json.dumps({kind: True, "at": iso(utcnow())}, separators=(",", ":")).encode()


def is_tombstone(body: bytes) -> bool:
    """Whether a stored body is a tombstone (erased or purged)."""
    return body.startswith((b'{"erased":true', b'{"purged":true'))


def tombstone_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers kept with a tombstone: signatures go (they sign a body that is gone)."""
    kept = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    if "content-type" in kept:
        kept["content-type"] = "application/json"
    return kept


# --- finding what the hub holds --------------------------------------------------------------


@dataclass
class Holdings:
    """Everything the hub holds about one person."""

    sessions: list[Session] = field(default_factory=list)
    events: dict[uuid.UUID, list[SessionEvent]] = field(default_factory=dict)
    guest_sessions: list[Session] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    messages: list[OutboundMessage] = field(default_factory=list)


def _needles(email: str) -> tuple[str, ...]:
    """How an e-mail appears in a raw body: plain, form-encoded, JSON-escaped @."""
    return (email, email.replace("@", "%40"), email.replace("@", "\\u0040"))


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _body_text(db: Db) -> ColumnElement[str]:
    """The raw body as text the database can search, whatever bytes it holds."""
    body = col(WebhookDelivery.body)
    if db.get_bind().dialect.name == "postgresql":
        return func.encode(body, "escape")  # never fails on bytes that are not UTF-8
    return cast(body, String)


def _mentions_sql(db: Db, email: str) -> ColumnElement[bool]:
    text = func.lower(_body_text(db))
    needles = _needles(email)
    if db.get_bind().dialect.name == "postgresql":  # the escape format doubles backslashes
        needles = tuple(n.replace("\\", "\\\\") for n in needles)
    return or_(*(text.like(_like(n), escape="\\") for n in needles))


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def attendee_sessions(db: Db, email: str) -> list[Session]:
    """Sessions where the person is the attendee (index on attendee_email)."""
    query = select(Session).where(Session.attendee_email == email)
    return list(db.exec(query.order_by(col(Session.start_at), col(Session.id))))


def guest_sessions(db: Db, email: str) -> list[Session]:
    """Sessions where the person is a guest (a scan of the guests JSON, then an exact check)."""
    text = func.lower(cast(col(Session.guests), String))
    query = select(Session).where(text.like(_like(email), escape="\\"))
    return [
        s
        for s in db.exec(query.order_by(col(Session.start_at), col(Session.id)))
        if s.attendee_email != email and any(_guest_is(g, email) for g in s.guests)
    ]


def _guest_is(guest: Any, email: str) -> bool:
    return isinstance(guest, dict) and normalise(str(guest.get("email") or "")) == email


def _delivery_ids(hub: Hub, email: str, session_ids: list[uuid.UUID]) -> list[int]:
    """Deliveries linked to the sessions, and those in the retention window naming the e-mail."""
    found: set[int] = set()
    with hub.db.session() as db:
        for chunk in _chunks(session_ids):
            found.update(
                i
                for i in db.exec(
                    select(WebhookDelivery.id).where(col(WebhookDelivery.session_id).in_(chunk))
                )
                if i is not None
            )
        start = int(read_value(db, INBOX_CURSOR) or 0)
        top = db.exec(select(func.max(WebhookDelivery.id))).one() or 0
    while start < top:
        end = start + SCAN_RANGE
        with hub.db.session() as db:
            found.update(
                i
                for i in db.exec(
                    select(WebhookDelivery.id).where(
                        col(WebhookDelivery.id) > start,
                        col(WebhookDelivery.id) <= end,
                        _mentions_sql(db, email),
                    )
                )
                if i is not None
            )
        start = end
    return sorted(found)


def _message_ids(hub: Hub, email: str) -> list[int]:
    """Outbound messages in the retention window whose payload names the e-mail."""
    text = func.lower(cast(col(OutboundMessage.payload), String))
    # the JSON column may hold non-ASCII as \u escapes: look for both spellings
    spellings = {email, json.dumps(email)[1:-1]}
    found: list[int] = []
    with hub.db.session() as db:
        start = int(read_value(db, OUTBOX_CURSOR) or 0)
        top = db.exec(select(func.max(OutboundMessage.id))).one() or 0
    while start < top:
        end = start + SCAN_RANGE
        with hub.db.session() as db:
            rows = db.exec(
                select(OutboundMessage.id, OutboundMessage.payload).where(
                    col(OutboundMessage.id) > start,
                    col(OutboundMessage.id) <= end,
                    or_(*(text.like(_like(n), escape="\\") for n in spellings)),
                )
            )
            found.extend(
                message_id
                for message_id, payload in rows
                if message_id is not None
                and email in json.dumps(payload, ensure_ascii=False).lower()
            )
        start = end
    return sorted(found)


def _load(hub: Hub, model: Any, ids: list[int]) -> list[Any]:
    out: list[Any] = []
    for chunk in _chunks(ids):
        with hub.db.session() as db:
            out.extend(db.exec(select(model).where(col(model.id).in_(chunk)).order_by(model.id)))
    return out


def find(hub: Hub, email: str) -> Holdings:
    """Everything the hub holds about the person with this (normalised) e-mail."""
    held = Holdings()
    with hub.db.session() as db:
        held.sessions = attendee_sessions(db, email)
        held.guest_sessions = guest_sessions(db, email)
        ids = [s.id for s in held.sessions]
        for chunk in _chunks(ids):
            for event in db.exec(
                select(SessionEvent)
                .where(col(SessionEvent.session_id).in_(chunk))
                .order_by(col(SessionEvent.id))
            ):
                held.events.setdefault(event.session_id, []).append(event)
    held.deliveries = _load(hub, WebhookDelivery, _delivery_ids(hub, email, ids))
    held.messages = _load(hub, OutboundMessage, _message_ids(hub, email))
    return held


# --- erasure ---------------------------------------------------------------------------------


class _Scrubber:
    """Replaces a person's identity in text and JSON values by their tombstone."""

    def __init__(self, email: str, names: Iterable[str], tomb: str, *, keys: bool = True) -> None:
        #: whether values under PERSONAL_KEYS go whatever they say (the person's own sessions)
        self.keys = keys
        # longest first, so "Jane Doe" goes whole before "Jane" could match part of it
        wanted = sorted({n.strip() for n in names if len(n.strip()) >= 2}, key=len, reverse=True)
        parts = [re.escape(email), *(rf"\b{re.escape(n)}\b" for n in wanted)]
        self.pattern = re.compile("|".join(parts), re.IGNORECASE)
        self.tomb = tomb

    def text(self, value: str | None) -> str | None:
        return None if value is None else self.pattern.sub(self.tomb, value)

    def json(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.json(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v, key) for v in value]
        if self.keys and key in PERSONAL_KEYS and value is not None and not isinstance(value, bool):
            return self.tomb
        if isinstance(value, str):
            return self.pattern.sub(self.tomb, value)
        return value


@dataclass
class Erasure:
    """What one erasure changed."""

    subject_hash: str
    counts: dict[str, int]
    previous: int = 0


def _erase_session(db: Db, session: Session, scrub: _Scrubber, counts: dict[str, int]) -> None:
    email = session.attendee_email
    session.attendee_email = ""  # no attendee: nothing can ever be sent to a fake address
    session.attendee_name = scrub.tomb
    session.attendee_client_ref = None  # pseudonymous, still personal: it points at the person
    session.attendee_timezone = None
    session.guests = []  # people the attendee invited: their data came with the booking
    session.reason = None
    session.notes = None
    session.cancellation_reason = None
    session.title = scrub.text(session.title) or ""
    if session.kind == "phone":
        session.location = None  # the attendee's phone number
    else:
        session.location = scrub.text(session.location)
    if session.cancelled_by and normalise(session.cancelled_by) == email:
        session.cancelled_by = scrub.tomb
    session.updated_at = utcnow()
    db.add(session)
    counts["sessions"] += 1
    for event in db.exec(select(SessionEvent).where(SessionEvent.session_id == session.id)):
        data = scrub.json(event.data)
        actor = event.actor
        if actor and (normalise(actor) == email or scrub.pattern.fullmatch(actor)):
            actor = scrub.tomb
        if data != event.data or actor != event.actor:
            event.data, event.actor = data, actor
            db.add(event)
            counts["events"] += 1
    for link in db.exec(select(ProviderLink).where(ProviderLink.session_id == session.id)):
        if link.last_error and scrub.pattern.search(link.last_error):
            link.last_error = scrub.text(link.last_error)
            db.add(link)
    for reminder in db.exec(
        select(Reminder).where(
            Reminder.session_id == session.id,
            Reminder.recipient == "attendee",
            col(Reminder.sent_at).is_(None),
            col(Reminder.cancelled_at).is_(None),
        )
    ):
        reminder.cancelled_at = utcnow()
        db.add(reminder)
        counts["reminders_cancelled"] += 1
    db.add(
        SessionEvent(
            session_id=session.id,
            kind="personal_data_erased",
            source="hub",
            version=session.version,
            data={"subject": scrub.tomb},
        )
    )


def _erase_guest(db: Db, session: Session, email: str, scrub: _Scrubber) -> None:
    """Someone else's session: only the guest's own entry and mentions of their e-mail go."""
    session.guests = [g for g in session.guests if not _guest_is(g, email)]
    session.updated_at = utcnow()
    db.add(session)
    for event in db.exec(select(SessionEvent).where(SessionEvent.session_id == session.id)):
        data = _Scrubber(email, (), scrub.tomb, keys=False).json(event.data)
        if data != event.data:
            event.data = data
            db.add(event)


def erase(hub: Hub, email: str, actor: str) -> Erasure:
    """Erase a person's data from sessions, timelines, deliveries and outbound messages.

    Idempotent: a second call finds nothing left and changes nothing (it is still logged).
    Sessions and their timelines change in one transaction; bodies in short batches after it,
    so a crash half-way leaves a state the next call completes.
    """
    digest = subject_hash(hub.settings.secret_key, email)
    tomb = "erased:" + digest[:12]
    counts = dict.fromkeys(
        (
            "sessions",
            "events",
            "guest_sessions",
            "reminders_cancelled",
            "deliveries",
            "outbound_messages",
        ),
        0,
    )
    with hub.db.session() as db:
        sessions = attendee_sessions(db, email)
        session_ids = [s.id for s in sessions]
        scrub = _Scrubber(email, [s.attendee_name for s in sessions], tomb)
        for session in sessions:
            _erase_session(db, session, scrub, counts)
        for session in guest_sessions(db, email):
            _erase_guest(db, session, email, scrub)
            counts["guest_sessions"] += 1
    for chunk in _chunks(_delivery_ids(hub, email, session_ids), BATCH):
        with hub.db.session() as db:
            for row in db.exec(select(WebhookDelivery).where(col(WebhookDelivery.id).in_(chunk))):
                changed = False
                if not is_tombstone(row.body):
                    row.body, changed = tombstone_body("erased"), True
                    row.headers = tombstone_headers(dict(row.headers))
                if row.last_error and scrub.pattern.search(row.last_error):
                    row.last_error, changed = scrub.text(row.last_error), True
                if changed:
                    db.add(row)
                    counts["deliveries"] += 1
    for chunk in _chunks(_message_ids(hub, email), BATCH):
        with hub.db.session() as db:
            for message in db.exec(
                select(OutboundMessage).where(col(OutboundMessage.id).in_(chunk))
            ):
                payload = scrub.json(message.payload)
                if payload != message.payload:
                    message.payload = payload
                    db.add(message)
                    counts["outbound_messages"] += 1
    with hub.db.session() as db:
        previous = len(
            list(db.exec(select(ErasureLog.id).where(ErasureLog.subject_hash == digest)))
        )
        db.add(ErasureLog(subject_hash=digest, actor=actor[:100], counts=counts))
    log.info("personal data erased", extra={"subject": tomb, "actor": actor, **counts})
    return Erasure(digest, counts, previous)
