"""Graph calls: one HttpClient per token, ≤ 4 requests in flight per mailbox, error mapping."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import requests.adapters

from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.http import HttpClient, Unsent, retry_after
from connectors.outlook import const

_registry_lock = threading.Lock()
#: one semaphore per mailbox, alive while some client of that mailbox holds it
_slots: weakref.WeakValueDictionary[str, threading.BoundedSemaphore] = weakref.WeakValueDictionary()
_TEXT_LIMIT = 200
#: one connection pool for every Graph session of the process (urllib3's pools are
#: thread-safe and keyed by host and TLS trust): a client per token, connections shared
_POOL = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=8)


def segment(value: str) -> str:
    """A Graph id as one URL path segment (ids may hold `/`, `+`; `=` is kept)."""
    return quote(value, safe="=")


def mailbox_slots(key: str) -> threading.BoundedSemaphore:
    """The process-wide semaphore (4 slots) of one mailbox: Outlook allows 4 concurrent calls."""
    with _registry_lock:
        found = _slots.get(key)
        if found is None:
            found = threading.BoundedSemaphore(const.MAX_CONCURRENT)
            _slots[key] = found
        return found


def _claims(token: str) -> Mapping[str, Any]:
    """The payload of a JWT access token, unverified (only used to name the mailbox)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def mailbox_key(access_token: str) -> str:
    """A stable name of the token's mailbox: `<tid>:<oid>` of a JWT, else a token digest.

    Personal-account tokens are opaque and change on refresh, so callers that know the
    account (the MSAL home_account_id) pass it instead.
    """
    claims = _claims(access_token)
    oid, tid = claims.get("oid"), claims.get("tid")
    if isinstance(oid, str) and oid:
        return f"{tid or ''}:{oid}"
    return "token:" + hashlib.sha256(access_token.encode()).hexdigest()[:32]


class GraphSession(requests.Session):
    """A requests session for Graph and MSAL: TLS trust, mailbox slots, a default timeout.

    A configured CA bundle wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, which requests
    otherwise prefers to `Session.verify` (psf/requests#3829); while sending, the session
    holds one of its mailbox's slots (retries wait outside it, in HttpClient).
    """

    def __init__(
        self,
        *,
        ca_bundle: str | None = None,
        slots: threading.BoundedSemaphore | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        for prefix in ("https://", "http://"):  # the process's pool: no TLS handshake per job
            self.mount(prefix, _POOL)
        self.ca_bundle = ca_bundle
        if ca_bundle:
            self.verify = ca_bundle  # a non-public authority/Graph: the loopback sandbox
        self.slots = slots
        self.default_timeout = timeout

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: Any,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> Any:
        """requests' merge, except that our CA bundle beats the environment's."""
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.ca_bundle and verify in (None, True):
            settings["verify"] = self.ca_bundle
        return settings

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send with the default timeout, holding a mailbox slot when there are slots."""
        if kwargs.get("timeout") is None and self.default_timeout is not None:
            kwargs["timeout"] = self.default_timeout
        if self.slots is None:
            return super().send(request, **kwargs)
        with self.slots:
            return super().send(request, **kwargs)


def graph_client(
    access_token: str,
    api_url: str | None = None,
    *,
    ca_bundle: str | None = None,
    mailbox: str | None = None,
    **options: Any,
) -> HttpClient:
    """An HttpClient for Graph: bearer token, Prefer headers, mailbox slots, TLS trust."""
    slots = mailbox_slots(mailbox or mailbox_key(access_token))
    session = GraphSession(ca_bundle=ca_bundle, slots=slots)
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/json",
        "Prefer": const.PREFER,
    }
    return HttpClient(
        (api_url or const.API_URL).rstrip("/"),
        "outlook",
        session=session,
        default_headers=headers,
        **options,
    )


def error_code(body: Any) -> str:
    """The `error.code` of a Graph error body, or an empty string."""
    error = body.get("error") if isinstance(body, Mapping) else None
    code = error.get("code") if isinstance(error, Mapping) else None
    return code if isinstance(code, str) else ""


def error_for(
    status: int, headers: Mapping[str, str], body: Any, where: str, now: datetime | None = None
) -> Exception:
    """The connector error of one failed batch item (messages hold the code, never bodies)."""
    where = f"outlook {where} -> {status}"
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    wait = retry_after(lowered, now or datetime.now(UTC))
    if status == 401:
        return AuthError(f"{where}: credentials refused")
    if status == 429:
        return Unsent(where, retry_after=wait)
    if status >= 500:
        return TransientError(where, retry_after=wait)
    text = f"{where}: {error_code(body)[:_TEXT_LIMIT]}".rstrip(": ")
    if status in (404, 410):
        return NotFound(text, status)
    return PermanentError(text, status)
