"""Google's OAuth server state: authorization codes, grants (refresh tokens), access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.sandbox.google_models import GoogleError, rfc3339

CODE_TTL = timedelta(minutes=10)
ACCESS_TTL = timedelta(hours=1)
REVOKED = "Token has been expired or revoked."


def _oauth(status: int, error: str, description: str = "Bad Request") -> GoogleError:
    return GoogleError(status, error, description)


@dataclass
class AuthCode:
    """A single-use authorization code, bound to a client and a redirect URI."""

    code: str
    client_id: str
    redirect_uri: str
    email: str
    scopes: list[str]
    offline: bool
    consent: bool  # `prompt=consent`: a refresh token even when a grant already exists
    challenge: str | None
    challenge_method: str
    expires: datetime
    used: bool = False


@dataclass
class Grant:
    """What the user consented to; holds the refresh token (None for online access)."""

    id: int
    email: str
    client_id: str
    scopes: list[str]
    refresh_token: str | None
    created: datetime
    revoked: bool = False


@dataclass
class AccessToken:
    """An opaque bearer token for the Calendar API."""

    token: str
    email: str
    grant_id: int
    scopes: list[str]
    expires: datetime
    revoked: bool = False


@dataclass
class Refresh:
    """One refresh_token grant the token endpoint answered."""

    email: str | None
    grant_id: int | None
    time: datetime
    ok: bool
    error: str | None = None


@dataclass
class Issued:
    """What the token endpoint answers."""

    access: AccessToken
    refresh_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The token response body."""
        body: dict[str, Any] = {
            "access_token": self.access.token,
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "scope": " ".join(self.access.scopes),
            "token_type": "Bearer",
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def _verifier_ok(code: AuthCode, verifier: str | None) -> bool:
    """PKCE (RFC 7636): S256 or plain."""
    if code.challenge is None:
        return True
    if not verifier:
        return False
    if code.challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.challenge)


class GrantStore:
    """The OAuth half of the Google emulation, guarded by the sandbox's lock."""

    def __init__(self, lock: threading.RLock, clock: Callable[[], datetime]) -> None:
        self.lock, self.clock = lock, clock
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[int, Grant] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refreshes: list[Refresh] = []
        self._ids = itertools.count(1)

    def issue_code(self, **fields: Any) -> AuthCode:
        """A code for `email` after consent (fields as in AuthCode, without code/expiry)."""
        with self.lock:
            code = AuthCode(
                code=f"4/0sandbox-{secrets.token_urlsafe(24)}",
                expires=self.clock() + CODE_TTL,
                **fields,
            )
            self.codes[code.code] = code
            return code

    def _access(self, grant: Grant, scopes: Sequence[str]) -> AccessToken:
        token = AccessToken(
            f"ya29.sandbox-{secrets.token_urlsafe(32)}",
            grant.email,
            grant.id,
            list(scopes),
            self.clock() + ACCESS_TTL,
        )
        self.tokens[token.token] = token
        return token

    def redeem(
        self, value: str, client_id: str, redirect_uri: str | None, verifier: str | None
    ) -> Issued:
        """grant_type=authorization_code."""
        with self.lock:
            code = self.codes.get(value)
            if code is None or code.used or self.clock() >= code.expires:
                raise _oauth(400, "invalid_grant", "Malformed auth code.")
            if code.client_id != client_id:
                raise _oauth(400, "invalid_grant", "Unauthorized")
            if redirect_uri != code.redirect_uri:
                raise _oauth(400, "redirect_uri_mismatch", "Bad Request")
            if not _verifier_ok(code, verifier):
                raise _oauth(400, "invalid_grant", "Invalid code verifier.")
            code.used = True
            live = [
                g
                for g in self.grants.values()
                if (g.email, g.client_id) == (code.email, client_id) and not g.revoked
            ]
            fresh = code.offline and (code.consent or not any(g.refresh_token for g in live))
            if fresh or not live:
                refresh = f"1//0sandbox-{secrets.token_urlsafe(32)}" if code.offline else None
                grant = Grant(
                    next(self._ids), code.email, client_id, code.scopes, refresh, self.clock()
                )
                self.grants[grant.id] = grant
                return Issued(self._access(grant, code.scopes), refresh)
            # Google returns a refresh token only on first consent (or with prompt=consent)
            return Issued(self._access(live[-1], code.scopes))

    def refresh(self, value: str, client_id: str, scope: str | None) -> Issued:
        """grant_type=refresh_token; every attempt is recorded."""
        with self.lock:
            grant = next((g for g in self.grants.values() if g.refresh_token == value), None)
            error: GoogleError | None = None
            if grant is None:
                error = _oauth(400, "invalid_grant", "Bad Request")
            elif grant.revoked:
                error = _oauth(400, "invalid_grant", REVOKED)
            elif grant.client_id != client_id:
                error = _oauth(401, "unauthorized_client", "Unauthorized")
            elif scope and not set(scope.split()) <= set(grant.scopes):
                error = _oauth(400, "invalid_scope", "Some requested scopes were invalid.")
            email, gid = (grant.email, grant.id) if grant else (None, None)
            reason = None if error is None else error.reason
            self.refreshes.append(Refresh(email, gid, self.clock(), error is None, reason))
            if error is not None or grant is None:
                raise error or _oauth(400, "invalid_grant")
            scopes = scope.split() if scope else grant.scopes
            return Issued(self._access(grant, scopes))

    def revoke(self, value: str) -> bool:
        """POST /revoke: an access or refresh token revokes its whole grant."""
        with self.lock:
            access = self.tokens.get(value)
            grant_id = access.grant_id if access else None
            if grant_id is None:
                grant_id = next(
                    (g.id for g in self.grants.values() if g.refresh_token == value), None
                )
            grant = self.grants.get(grant_id) if grant_id is not None else None
            if grant is None or grant.revoked:
                return False
            self._revoke(grant, keep_access=False)
            return True

    def _revoke(self, grant: Grant, *, keep_access: bool) -> None:
        grant.revoked = True
        if not keep_access:
            for token in self.tokens.values():
                if token.grant_id == grant.id:
                    token.revoked = True

    def revoke_account(self, email: str, *, keep_access: bool = False) -> int:
        """The user removes the app (or the grant lapses): refresh -> invalid_grant."""
        with self.lock:
            found = [g for g in self.grants.values() if g.email == email and not g.revoked]
            for grant in found:
                self._revoke(grant, keep_access=keep_access)
            return len(found)

    def expire_tokens(self, email: str) -> int:
        """Every access token of the account expires now (the API answers 401)."""
        with self.lock:
            now, found = self.clock(), 0
            for token in self.tokens.values():
                if token.email == email and token.expires > now:
                    token.expires, found = now, found + 1
            return found

    def account_for(self, token: str) -> str | None:
        """The e-mail behind a live access token."""
        with self.lock:
            access = self.tokens.get(token)
            if access is None or access.revoked or self.clock() >= access.expires:
                return None
            return access.email if access.grant_id in self.grants else None

    def refresh_count(self, email: str | None = None, *, ok: bool | None = True) -> int:
        """How many refreshes (successful by default; ok=None counts every attempt)."""
        with self.lock:
            return sum(1 for r in self.refreshes if email in (None, r.email) and ok in (None, r.ok))

    def dump(self, email: str) -> dict[str, Any]:
        """The account's OAuth side for the control plane (no token values)."""
        with self.lock:
            grants = [g for g in self.grants.values() if g.email == email]
            return {
                "grants": [
                    {
                        "id": g.id,
                        "scopes": g.scopes,
                        "offline": g.refresh_token is not None,
                        "revoked": g.revoked,
                        "created": rfc3339(g.created),
                    }
                    for g in grants
                ],
                "live_access_tokens": sum(
                    1
                    for t in self.tokens.values()
                    if t.email == email and self.account_for(t.token)
                ),
                "refreshes": self.refresh_count(email),
                "failed_refreshes": self.refresh_count(email, ok=False),
            }
