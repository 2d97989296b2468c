"""Microsoft identity platform state: accounts, authorization codes, access and refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.outlook_calendar import CalendarStore
from connectors.sandbox.outlook_models import OutlookError
from connectors.sandbox.outlook_subs import SubscriptionStore

#: the sandbox's one tenant (accounts are "work" accounts of it)
TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
ACCESS_LIFETIME = timedelta(hours=1)
CODE_LIFETIME = timedelta(minutes=10)
REVOKED = "AADSTS70000: The provided grant has expired or been revoked."
INTERACTION = "AADSTS50076: Due to a configuration change, you must re-authenticate."


def b64url(raw: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Account:
    """One mailbox (user) of the sandbox tenant."""

    email: str
    id: str
    created: datetime
    refresh_count: int = 0
    refresh_failures: int = 0
    revoked: bool = False
    interaction_required: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "id": self.id,
            "tenant_id": TENANT_ID,
            "refresh_count": self.refresh_count,
            "refresh_failures": self.refresh_failures,
            "revoked": self.revoked,
            "interaction_required": self.interaction_required,
        }


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    email: str
    scopes: list[str]
    nonce: str | None
    challenge: str | None
    method: str
    expires: datetime


@dataclass
class Issued:
    """One token response."""

    body: dict[str, Any] = field(default_factory=dict)


class OutlookStore:
    """Accounts, tokens, calendars and subscriptions (`state.outlook`)."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock = lock
        self.clock = clock
        self.accounts: dict[str, Account] = {}
        self.codes: dict[str, Code] = {}
        self.access: dict[str, tuple[str, datetime]] = {}
        self.refresh_tokens: dict[str, str] = {}
        #: refresh tokens of revoked grants (still counted when used)
        self.dead_refresh: dict[str, str] = {}
        self.calendars = CalendarStore(lock, clock)
        self.subscriptions = SubscriptionStore(lock, clock)
        #: requests in flight / most ever seen (attempted, throttled ones included) per mailbox
        self.in_flight: dict[str, int] = {}
        self.max_concurrency: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        #: control-plane settings: artificial latency of Graph calls, batched notifications
        self.latency_s = 0.0
        self.batch_notifications = False
        #: change notifications held back while batching: (notificationUrl, item)
        self.pending: list[tuple[str, dict[str, Any]]] = []
        #: delta rounds in progress, by $skiptoken
        self.cursors: dict[str, dict[str, Any]] = {}

    def account(self, email: str) -> Account:
        with self.lock:
            found = self.accounts.get(email.lower())
            if found is None:
                raise OutlookError(404, "ErrorItemNotFound", f"no account {email}")
            return found

    def ensure_account(self, email: str) -> tuple[Account, bool]:
        """The account of an e-mail address, made (with its calendars) on first use."""
        with self.lock:
            key = email.strip().lower()
            found = self.accounts.get(key)
            if found is not None:
                return found, False
            account = Account(key, str(uuid.uuid5(uuid.NAMESPACE_URL, key)), self.clock())
            self.accounts[key] = account
            self.calendars.seed(key)
            return account, True

    def issue_code(self, **fields: Any) -> Code:
        with self.lock:
            code = Code(
                code=secrets.token_urlsafe(24), expires=self.clock() + CODE_LIFETIME, **fields
            )
            self.codes[code.code] = code
            return code

    def _id_token(self, account: Account, client_id: str, issuer: str, nonce: str | None) -> str:
        now = int(self.clock().timestamp())
        claims = {
            "ver": "2.0",
            "iss": issuer,
            "aud": client_id,
            "sub": b64url(hashlib.sha256(f"{account.id}:{client_id}".encode()).digest()),
            "oid": account.id,
            "tid": TENANT_ID,
            "preferred_username": account.email,
            "name": account.email.split("@")[0],
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        if nonce:
            claims["nonce"] = nonce
        header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{b64url(json.dumps(claims).encode())}."

    def _issue(
        self, account: Account, client_id: str, scopes: list[str], issuer: str, nonce: str | None
    ) -> Issued:
        access = "EwB" + secrets.token_urlsafe(40)
        self.access[access] = (account.email, self.clock() + ACCESS_LIFETIME)
        api_scopes = [s for s in scopes if s not in ("openid", "profile", "offline_access")]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(api_scopes or ["https://graph.microsoft.com/.default"]),
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
            "client_info": b64url(json.dumps({"uid": account.id, "utid": TENANT_ID}).encode()),
        }
        if "offline_access" in scopes:
            rt = "M.R3_" + secrets.token_urlsafe(40)
            self.refresh_tokens[rt] = account.email
            body["refresh_token"] = rt
        if "openid" in scopes:
            body["id_token"] = self._id_token(account, client_id, issuer, nonce)
        return Issued(body)

    def redeem(
        self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None, issuer: str
    ) -> Issued:
        with self.lock:
            found = self.codes.pop(code, None)
            if found is None or found.expires <= self.clock() or found.client_id != client_id:
                raise OutlookError(400, "invalid_grant", "AADSTS70008: The provided code expired.")
            if redirect_uri != found.redirect_uri:
                raise OutlookError(400, "invalid_grant", "AADSTS50148: redirect_uri mismatch.")
            if found.challenge is not None:
                expected = verifier or ""
                if found.method.upper() == "S256":
                    expected = b64url(hashlib.sha256(expected.encode()).digest())
                if not verifier or not hmac.compare_digest(expected, found.challenge):
                    raise OutlookError(400, "invalid_grant", "AADSTS501481: bad code_verifier.")
            account = self.accounts[found.email]
            account.revoked = account.interaction_required = False
            return self._issue(account, client_id, found.scopes, issuer, found.nonce)

    def refresh(self, token: str, client_id: str, scopes: list[str], issuer: str) -> Issued:
        """Refresh-token grant; the used refresh token is rotated (it stays valid, like Entra)."""
        with self.lock:
            email = self.refresh_tokens.get(token) or self.dead_refresh.get(token)
            if email is None:
                raise OutlookError(400, "invalid_grant", REVOKED)
            account = self.accounts[email]
            account.refresh_count += 1
            if token in self.dead_refresh:
                account.refresh_failures += 1
                raise OutlookError(400, "invalid_grant", REVOKED)
            if account.interaction_required:
                account.refresh_failures += 1
                raise OutlookError(400, "interaction_required", INTERACTION)
            return self._issue(account, client_id, [*scopes, "offline_access"], issuer, None)

    def account_for(self, token: str) -> Account | None:
        """The account of a live access token."""
        with self.lock:
            found = self.access.get(token)
            if found is None or found[1] <= self.clock():
                return None
            return self.accounts.get(found[0])

    def revoke(self, email: str, *, keep_access_tokens: bool = False) -> None:
        with self.lock:
            account = self.account(email)
            account.revoked = True
            for rt in [t for t, e in self.refresh_tokens.items() if e == account.email]:
                self.dead_refresh[rt] = self.refresh_tokens.pop(rt)
            if not keep_access_tokens:
                self.expire_tokens(email)

    def expire_tokens(self, email: str) -> int:
        with self.lock:
            gone = [t for t, (e, _) in self.access.items() if e == email.lower()]
            for token in gone:
                del self.access[token]
            return len(gone)

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "tenant_id": TENANT_ID,
                "accounts": [a.to_json() for a in self.accounts.values()],
                "calendars": self.calendars.dump(),
                "subscriptions": self.subscriptions.dump(),
                "max_concurrency": dict(self.max_concurrency),
                "throttled": dict(self.throttled),
                "settings": {
                    "latency_s": self.latency_s,
                    "batch_notifications": self.batch_notifications,
                },
            }
