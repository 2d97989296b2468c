"""Daily constants: slug, headers, tolerances, room windows and the event types the hub maps."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

SLUG: Final = "daily"

API_BASE_URL: Final = "https://api.daily.co/v1"

# A bad key is 401 `authentication-error`; a missing header is 400 `authorization-header-error`,
# which only a bug in our code can cause, so it stays a PermanentError
# (https://docs.daily.co/reference/rest-api).
AUTH_STATUSES: Final = frozenset({401})

TIMESTAMP_HEADER: Final = "x-webhook-timestamp"
SIGNATURE_HEADER: Final = "x-webhook-signature"

#: how far a delivery's X-Webhook-Timestamp may be from our clock, either way (clock skew
#: between Daily and the hub, plus delivery delay). Daily documents no window; 5 minutes is
#: Stripe's default and providers.md's advice ("allow >= 5 min skew"). The timestamp is signed,
#: so a delivery older than this cannot be replayed with a fresh one. Beyond it: 401.
TOLERANCE: Final = timedelta(minutes=5)

#: the body Daily POSTs when a webhook is created; it must get a 200 before any secret is known
PROBE_BODY: Final = {"test": "test"}
PROBE_REPLY: Final = '{"status":"ok"}'
#: bodies longer than this are never the probe (no JSON parse of large unverified bodies)
PROBE_MAX_BYTES: Final = 64

MEETING_STARTED: Final = "meeting.started"
MEETING_ENDED: Final = "meeting.ended"
PARTICIPANT_JOINED: Final = "participant.joined"
PARTICIPANT_LEFT: Final = "participant.left"
RECORDING_READY: Final = "recording.ready-to-download"

#: every event type the mapping turns into a change; others are recorded as ignored
HANDLED_TYPES: Final = frozenset(
    {MEETING_STARTED, MEETING_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT, RECORDING_READY}
)

#: recording payloads name the room `room_name`; every other payload calls it `room`
RECORDING_TYPES: Final = frozenset({RECORDING_READY})

#: what the hub writes into a meeting token's user_id, read back as the participant's role
HUB_ROLES: Final = frozenset({"coach", "attendee"})

#: rooms the hub creates are named ROOM_PREFIX + the session UUID's 32 hex digits
ROOM_PREFIX: Final = "hub-"
#: a room opens this long before the session starts...
JOIN_OPENS_BEFORE: Final = timedelta(minutes=15)
#: ...and expires this long after it ends (Cal.com's Daily adapter uses the same 1 h buffer)
ROOM_EXPIRES_AFTER: Final = timedelta(hours=1)

#: the `info` Daily answers (HTTP 400) to POST /rooms with a taken name:
#: `{"error": "invalid-request-error", "info": "a room named <name> already exists"}`
ROOM_EXISTS_TEXT: Final = "already exists"

#: GET /meetings page size when none is given
MEETINGS_PAGE: Final = 100
