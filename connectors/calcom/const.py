"""Cal.com constants: slug, headers, API versions and the trigger names the hub maps."""

from __future__ import annotations

from typing import Final

SLUG: Final = "calcom"

API_BASE_URL: Final = "https://api.cal.com/v2"

# Every versioned v2 endpoint needs `cal-api-version`; without it Cal.com falls back to an older
# version (https://cal.com/docs/api-reference/v2/introduction). Pinned per endpoint family.
API_VERSION_HEADER: Final = "cal-api-version"
BOOKINGS_API_VERSION: Final = "2024-08-13"
SLOTS_API_VERSION: Final = "2024-09-04"

# HTTP_CODE_TOKEN_EXPIRED in @calcom/platform-constants: an expired managed-user access token.
TOKEN_EXPIRED_STATUS: Final = 498
AUTH_STATUSES: Final = frozenset({401, TOKEN_EXPIRED_STATUS})

# Throttler headers are per named limit: X-RateLimit-Reset-Default, X-RateLimit-Reset-<Name>.
RATE_LIMIT_RESET_PREFIX: Final = "x-ratelimit-reset-"
RATE_LIMIT_REMAINING_PREFIX: Final = "x-ratelimit-remaining-"

#: HMAC of the body only: Cal.com signs no timestamp, so there is no clock-skew window to
#: enforce; replays are absorbed by the dedupe key (trigger:uid:createdAt)
SIGNATURE_HEADER: Final = "x-cal-signature-256"
VERSION_HEADER: Final = "x-cal-webhook-version"
NO_SECRET_SIGNATURE: Final = "no-secret-provided"  # noqa: S105 - the marker, not a secret

BOOKING_CREATED: Final = "BOOKING_CREATED"
BOOKING_REQUESTED: Final = "BOOKING_REQUESTED"
BOOKING_REJECTED: Final = "BOOKING_REJECTED"
BOOKING_RESCHEDULED: Final = "BOOKING_RESCHEDULED"
BOOKING_CANCELLED: Final = "BOOKING_CANCELLED"
BOOKING_PAID: Final = "BOOKING_PAID"
BOOKING_PAYMENT_INITIATED: Final = "BOOKING_PAYMENT_INITIATED"
BOOKING_NO_SHOW_UPDATED: Final = "BOOKING_NO_SHOW_UPDATED"
MEETING_STARTED: Final = "MEETING_STARTED"
MEETING_ENDED: Final = "MEETING_ENDED"

#: triggers whose payload is a full booking with uid, times and people
BOOKING_TRIGGERS: Final = frozenset(
    {
        BOOKING_CREATED,
        BOOKING_REQUESTED,
        BOOKING_REJECTED,
        BOOKING_RESCHEDULED,
        BOOKING_CANCELLED,
        BOOKING_PAID,
        BOOKING_PAYMENT_INITIATED,
    }
)

#: Cal.com conferencing apps we know by name; any other `integrations:` location is also an app
VIDEO_LOCATIONS: Final = frozenset(
    {
        "integrations:daily",
        "integrations:zoom",
        "integrations:google:meet",
        "integrations:office365_video",
        "link",
        "conferencing",
    }
)
PHONE_LOCATIONS: Final = frozenset({"phone", "userphone", "attendeephone"})
IN_PERSON_LOCATIONS: Final = frozenset({"inperson", "attendeeinperson"})

#: Cal.com's limits on booking metadata (create-booking input: at most 50 keys, keys of at
#: most 40 characters, string values of at most 500); larger entries are not kept
METADATA_MAX_KEYS: Final = 50
METADATA_MAX_KEY: Final = 40
METADATA_MAX_VALUE: Final = 500

#: booking metadata key the hub writes on bookings it creates; read back as Change.session_id
SESSION_METADATA_KEY: Final = "sessionhub_session_id"

#: `videoCallData.type` of Cal Video, whose `videoCallData.id` is the Daily room name
CAL_VIDEO_TYPE: Final = "daily_video"

#: every trigger the mapping turns into a change; others are recorded as ignored
HANDLED_TRIGGERS: Final = BOOKING_TRIGGERS | {
    BOOKING_NO_SHOW_UPDATED,
    MEETING_STARTED,
    MEETING_ENDED,
}

#: API v2 booking status -> canonical session status
API_STATUS: Final = {
    "accepted": "confirmed",
    "pending": "requested",
    "cancelled": "cancelled",
    "rejected": "rejected",
}
