"""Microsoft Graph (Outlook calendar) constants: slug, scopes, endpoints, limits and tags."""

from __future__ import annotations

from typing import Final

SLUG: Final = "outlook"

# Delegated permissions: write session events and read the calendars' change feeds
# (Calendars.ReadWrite), read the signed-in user's mail address (User.Read). MSAL adds the
# reserved scopes offline_access, openid and profile itself and refuses them when passed.
SCOPES: Final = ("Calendars.ReadWrite", "User.Read")
RESERVED_SCOPES: Final = frozenset({"offline_access", "openid", "profile"})

AUTHORITY_URL: Final = "https://login.microsoftonline.com"
TENANT: Final = "common"
API_URL: Final = "https://graph.microsoft.com/v1.0"

#: every call asks for immutable ids (they survive moving an event between folders) and for
#: times in UTC; both preferences travel in one comma-separated `Prefer` header (RFC 7240)
PREFER: Final = 'IdType="ImmutableId", outlook.timezone="UTC"'

#: the hub's tag on the events it writes: one single-value extended property
#: (https://learn.microsoft.com/graph/api/resources/extended-properties-overview)
PROPERTY_GUID: Final = "66f5a359-4659-4638-81f9-9bdc6a1e1a1c"
PROPERTY_ID: Final = f"String {{{PROPERTY_GUID}}} Name SessionHubTag"
#: `$expand` that reads the tag back on GETs (calendarView/delta does not support $expand)
EXPAND_TAG: Final = f"singleValueExtendedProperties($filter=id eq '{PROPERTY_ID}')"

#: the documented maximum lifetime of an Outlook event subscription (4,230 minutes);
#: newer notes say 10,080, so the granted expiry is always read from the response
MAX_SUBSCRIPTION_MINUTES: Final = 4230
CHANGE_TYPES: Final = "created,updated,deleted"
LIFECYCLE_EVENTS: Final = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})
#: a validation token longer than this is refused (Graph's are ~100 characters)
MAX_VALIDATION_TOKEN: Final = 1024
#: notifications one request may carry. Graph batches them but documents no maximum; each item
#: costs the unauthenticated push route a lookup, so a 1 MB body of 35,000 items held a worker
#: for ~10 s. Far above what one hub's subscriptions produce at once; beyond it: 400.
MAX_NOTIFICATIONS: Final = 1000

#: delta errors that mean "the delta link is no longer valid: sync the window again"
RESYNC_CODES: Final = frozenset({"syncStateNotFound", "resyncRequired", "SyncStateNotFound"})

#: Outlook limits per app and mailbox: 4 concurrent requests; 20 requests per JSON batch
#: (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits)
MAX_CONCURRENT: Final = 4
BATCH_SIZE: Final = 20
BATCH_ATTEMPTS: Final = 3

#: hosts of Microsoft's own authorities: MSAL may run instance discovery for these only
KNOWN_AUTHORITY_HOSTS: Final = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)
