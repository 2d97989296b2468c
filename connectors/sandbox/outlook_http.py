"""What the Outlook route modules share: the store, the caller's mailbox, Prefer headers."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from connectors.sandbox.api import bearer, current, json_response
from connectors.sandbox.outlook_models import OutlookError
from connectors.sandbox.outlook_store import Account, OutlookStore

PREFIX = "/outlook"
GRAPH = "/v1.0"
#: set in the WSGI environ of a call replayed from $batch (shared with Google's batch)
BATCH_ENVIRON = "sandbox.batch"
_TZ = re.compile(r'outlook\.timezone\s*=\s*"?([^",;]+)"?', re.IGNORECASE)
_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_EXPAND = re.compile(r"singleValueExtendedProperties\(\$filter=(.*)\)\s*$", re.IGNORECASE)
_ID_EQ = re.compile(r"id\s+eq\s+'([^']*)'", re.IGNORECASE)


def store() -> OutlookStore:
    """`state.outlook` of the running sandbox."""
    return current().state.outlook


def me() -> Account:
    """The mailbox of the request's access token (the gate already let it in)."""
    account = store().account_for(bearer(request.headers.get("Authorization")) or "")
    if account is None:
        raise OutlookError(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
    return account


def prefer_tz() -> str | None:
    """`Prefer: outlook.timezone="…"` (None means UTC)."""
    found = _TZ.search(request.headers.get("Prefer", ""))
    return found.group(1).strip() if found else None


def page_size(default: int = 10) -> int:
    """`Prefer: odata.maxpagesize=n`."""
    found = _PAGE.search(request.headers.get("Prefer", ""))
    return max(1, int(found.group(1))) if found else default


def expand() -> list[str] | None:
    """The ids asked for by `$expand=singleValueExtendedProperties($filter=id eq '…')`."""
    value = request.args.get("$expand")
    if not value:
        return None
    found = _EXPAND.search(value.strip())
    if not found:
        if value.strip().lower() == "singlevalueextendedproperties":
            return []
        raise OutlookError(400, "BadRequest", f"Unsupported $expand: {value}")
    return _ID_EQ.findall(found.group(1))


def graph_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A Graph JSON answer; `Preference-Applied` echoes a honoured time zone."""
    sent = dict(headers or {})
    if prefer_tz():
        sent["Preference-Applied"] = f'outlook.timezone="{prefer_tz()}"'
    return json_response(body, status, sent)


def base_url() -> str:
    """This listener's Graph base URL (`https://127.0.0.1:<port>/outlook/v1.0`)."""
    return request.host_url.rstrip("/") + PREFIX + GRAPH
