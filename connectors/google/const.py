"""Google Calendar constants: slug, scopes, endpoints, push headers and the hub's event tags."""

from __future__ import annotations

from typing import Final

SLUG: Final = "google"

# Least privilege for what the hub does: `calendar.events` writes session events into the
# coach's chosen calendar; `calendar.readonly` lists calendars, reads their change feeds and
# queries freeBusy (which `calendar.events` alone does not allow). The full `calendar` scope
# would also let the hub create, delete and share whole calendars, which it never does
# (scope list and freeBusy's accepted scopes: calendar.v3.json discovery, rev 20261030).
EVENTS_SCOPE: Final = "https://www.googleapis.com/auth/calendar.events"
READONLY_SCOPE: Final = "https://www.googleapis.com/auth/calendar.readonly"
SCOPES: Final = (EVENTS_SCOPE, READONLY_SCOPE)

AUTH_URL: Final = "https://accounts.google.com/o/oauth2/auth"
TOKEN_URL: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
REVOKE_URL: Final = "https://oauth2.googleapis.com/revoke"
API_URL: Final = "https://www.googleapis.com"
#: below `oauth_url` (the loopback sandbox): where each OAuth endpoint lives
AUTH_PATH: Final = "/o/oauth2/auth"
TOKEN_PATH: Final = "/token"  # noqa: S105 - a path
REVOKE_PATH: Final = "/revoke"
#: below `api_url`: the Calendar API and its batch endpoint (discovery rootUrl + servicePath
#: / batchPath)
SERVICE_PATH: Final = "/calendar/v3/"
BATCH_PATH: Final = "/batch/calendar/v3"

#: hosts for which plain http is allowed (oauthlib refuses it elsewhere)
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})

# push notifications carry everything in headers, no body and no signature
# (https://developers.google.com/calendar/api/guides/push)
CHANNEL_ID_HEADER: Final = "x-goog-channel-id"
CHANNEL_TOKEN_HEADER: Final = "x-goog-channel-token"  # noqa: S105 - a header name
CHANNEL_EXPIRATION_HEADER: Final = "x-goog-channel-expiration"
RESOURCE_ID_HEADER: Final = "x-goog-resource-id"
RESOURCE_URI_HEADER: Final = "x-goog-resource-uri"
RESOURCE_STATE_HEADER: Final = "x-goog-resource-state"
MESSAGE_NUMBER_HEADER: Final = "x-goog-message-number"
#: kept with a stored delivery; the channel token is a secret and is not kept
STORED_HEADERS: Final = (
    CHANNEL_ID_HEADER,
    CHANNEL_EXPIRATION_HEADER,
    RESOURCE_ID_HEADER,
    RESOURCE_URI_HEADER,
    RESOURCE_STATE_HEADER,
    MESSAGE_NUMBER_HEADER,
)
#: `sync` right after watch, `exists` when something changed, `not_exists` when it is gone
RESOURCE_STATES: Final = frozenset({"sync", "exists", "not_exists"})

#: private extended properties the hub writes on its events and reads back (echo detection)
SESSION_KEY: Final = "sessionhub_session_id"
VERSION_KEY: Final = "sessionhub_version"

SEND_UPDATES: Final = frozenset({"none", "all", "externalOnly"})
WRITABLE_ROLES: Final = frozenset({"owner", "writer"})
#: 403 reasons that mean "slow down" rather than "forbidden"
#: (https://developers.google.com/calendar/api/guides/errors)
RATE_LIMIT_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})

PAGE_SIZE: Final = 250
#: calls per batch request; Google allows 1000 but counts each call against the quota
BATCH_SIZE: Final = 50
#: calendars per freeBusy query (calendarExpansionMax)
FREEBUSY_CALENDARS: Final = 50
