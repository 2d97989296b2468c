"""Google's web-server OAuth flow: consent URL, code exchange, refresh and revoke."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2 import OAuth2Error

from connectors.calendar import OAuth, TokenSet
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.google import const
from connectors.google.api import GoogleCalendarApi

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_INSECURE = "OAUTHLIB_INSECURE_TRANSPORT"
_env_lock = threading.Lock()
#: OAuth error codes after which only a new consent helps
_REAUTH_ERRORS = frozenset({"invalid_grant", "invalid_rapt"})
_RETRYABLE_ERRORS = frozenset({"server_error", "temporarily_unavailable", "internal_failure"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Endpoints:
    """Where the OAuth calls and the Calendar API go."""

    auth_url: str
    token_url: str
    revoke_url: str
    api_url: str


def is_loopback(url: str) -> bool:
    """Whether a URL is plain http to this machine (127.0.0.1, localhost, ::1)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in const.LOOPBACK_HOSTS


def _base(settings: Mapping[str, str], key: str, default: str) -> str:
    url = (settings.get(key) or default).rstrip("/")
    # tokens and secrets travel to these URLs: https, or plain http to this machine only
    if urlsplit(url).scheme != "https" and not is_loopback(url):
        raise PermanentError(f"google {key} must be https (or http to a loopback host)")
    return url


def endpoints(settings: Mapping[str, str]) -> Endpoints:
    """Google's endpoints, or those below `oauth_url` (the loopback sandbox) when set."""
    api = _base(settings, "api_url", const.API_URL)
    if not settings.get("oauth_url"):
        return Endpoints(const.AUTH_URL, const.TOKEN_URL, const.REVOKE_URL, api)
    base = _base(settings, "oauth_url", "")
    return Endpoints(base + const.AUTH_PATH, base + const.TOKEN_PATH, base + const.REVOKE_PATH, api)


@contextmanager
def loopback_transport(url: str) -> Iterator[None]:
    """Let oauthlib use plain http for this one call, and only when `url` is loopback.

    oauthlib refuses http unless OAUTHLIB_INSECURE_TRANSPORT is set and reads it at call
    time; it is set for the duration of the call under a lock and then restored, so https
    endpoints never depend on it and other URLs are refused as before.
    """
    if not is_loopback(url):
        yield
        return
    with _env_lock:
        before = os.environ.get(_INSECURE)
        os.environ[_INSECURE] = "1"
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(_INSECURE, None)
            else:
                os.environ[_INSECURE] = before


def _reject_unavailable(response: requests.Response) -> requests.Response:
    """A token endpoint answer that is an outage, not a refusal, becomes TransientError."""
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"google token endpoint -> {response.status_code}")
    return response


def _scopes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list | tuple):
        return tuple(str(s) for s in value)
    return ()


def _as_utc(value: datetime | None) -> datetime | None:
    # google-auth keeps expiry as naive UTC
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _TimedRequest(Request):
    """google-auth's requests transport with our timeout (its default is 120 s)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def __call__(
        self,
        url: Any,
        method: Any = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        send: Any = super().__call__  # google-auth's transport is not annotated
        return send(url, method, body, headers, timeout or self._timeout, **kwargs)


class GoogleOAuth(OAuth):
    """The hub's Google OAuth client (offline access, so there is a refresh token)."""

    def __init__(
        self, settings: Mapping[str, str], *, timeout: float = 15.0, clock: Clock = _utcnow
    ) -> None:
        client_id, secret = settings.get("client_id"), settings.get("client_secret")
        if not client_id or not secret:
            raise PermanentError("google OAuth needs client_id and client_secret")
        self.client_id, self.client_secret = client_id, secret
        self.endpoints = endpoints(settings)
        self.timeout = timeout
        self.clock = clock

    def _flow(self, redirect_uri: str) -> Any:
        config = {
            "web": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "auth_uri": self.endpoints.auth_url,
                "token_uri": self.endpoints.token_url,
            }
        }
        # no PKCE: the verifier would have to survive until the callback, which only brings
        # the (hub-signed) state; this confidential client proves itself with its secret
        return Flow.from_client_config(
            config,
            scopes=list(const.SCOPES),
            redirect_uri=redirect_uri,
            autogenerate_code_verifier=False,
        )

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """The consent URL: offline access, consent prompt, incremental scopes, our state."""
        if not state:
            raise ValueError("state is required (the hub signs and checks it)")
        with loopback_transport(self.endpoints.auth_url):
            url, _ = self._flow(redirect_uri).authorization_url(
                access_type="offline",
                prompt="consent",
                include_granted_scopes="true",
                state=state,
            )
        return str(url)

    def exchange(self, redirect_uri: str, code: str) -> TokenSet:
        """Trade the callback's code for tokens; AuthError when Google refuses it."""
        flow = self._flow(redirect_uri)
        flow.oauth2session.register_compliance_hook("access_token_response", _reject_unavailable)
        try:
            with loopback_transport(self.endpoints.token_url):
                token = flow.fetch_token(code=code, timeout=self.timeout)
        except Warning as changed:
            # oauthlib raises (not warns) when the granted scopes differ from those asked
            # for (include_granted_scopes adds earlier grants); the token is still good
            token = getattr(changed, "token", None)
            if not isinstance(token, Mapping):
                raise PermanentError("google token response could not be read") from changed
        except OAuth2Error as err:
            raise self._refused(str(err.error), str(err.description or "")) from err
        except requests.RequestException as err:
            raise TransientError(f"google token endpoint: {type(err).__name__}") from err
        tokens = self._tokens(token)
        missing = [s for s in const.SCOPES if tokens.scopes and s not in tokens.scopes]
        if missing:
            # consent screens let the coach untick scopes; without these the hub cannot work
            raise AuthError("google: not every scope was granted: " + " ".join(missing))
        return tokens

    def refresh(self, tokens: TokenSet) -> TokenSet:
        """New access token (the refresh token is kept unless Google sends a new one)."""
        if not tokens.refresh_token:
            raise AuthError("google: no refresh token; the account must be linked again")
        creds = Credentials(  # type: ignore[no-untyped-call]
            token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            token_uri=self.endpoints.token_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )
        try:
            creds.refresh(_TimedRequest(self.timeout))  # type: ignore[no-untyped-call]
        except RefreshError as err:
            raise self._refresh_failed(err) from err
        except TransportError as err:
            raise TransientError("google token endpoint: unreachable") from err
        return TokenSet(
            access_token=str(creds.token),
            refresh_token=creds.refresh_token or tokens.refresh_token,
            expires_at=_as_utc(creds.expiry),
            # a refresh never changes what was granted; only a new consent does
            scopes=tokens.scopes,
            extra=tokens.extra,
        )

    def revoke(self, tokens: TokenSet) -> None:
        """Revoke the grant (the refresh token revokes all of it); failures are only logged."""
        token = tokens.refresh_token or tokens.access_token
        try:
            response = requests.post(
                self.endpoints.revoke_url,
                data={"token": token},
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            logger.warning("google revoke failed", extra={"error": type(err).__name__})
            return
        if response.status_code != 200:
            # 400 invalid_token: already revoked or expired, which is what we wanted
            logger.info("google revoke answered", extra={"status": response.status_code})

    def api(self, tokens: TokenSet) -> GoogleCalendarApi:
        """The Calendar API with these tokens' access token."""
        return GoogleCalendarApi(tokens.access_token, self.endpoints.api_url)

    def _refresh_failed(self, err: RefreshError) -> Exception:
        if err.retryable:
            return TransientError("google token endpoint: temporarily unavailable")
        data = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], dict) else None
        if data is not None:
            return self._refused(
                str(data.get("error") or ""), str(data.get("error_description") or "")
            )
        if str(err.args[0] if err.args else "").startswith("Reauthentication is needed"):
            # invalid_grant + invalid_rapt: the account's policy wants a new sign-in
            return AuthError("invalid_grant: reauthentication is needed")
        # an answer that is not JSON (a proxy's error page), after google-auth's own retries
        return TransientError("google token endpoint: unreadable error answer")

    def _refused(self, error: str, description: str) -> Exception:
        text = f"{error}: {description[:200]}".rstrip(": ")
        if error in _RETRYABLE_ERRORS:
            return TransientError(f"google token endpoint: {text}")
        if error in _REAUTH_ERRORS or not error:
            return AuthError(text)
        # invalid_client / unauthorized_client: the hub's OAuth client is misconfigured,
        # which a new consent would not fix
        return PermanentError(f"google OAuth refused: {text}")

    def _tokens(self, token: Mapping[str, Any]) -> TokenSet:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise PermanentError("google token response holds no access token")
        refresh = token.get("refresh_token")
        expires: datetime | None = None
        if isinstance(token.get("expires_at"), int | float):
            expires = datetime.fromtimestamp(float(token["expires_at"]), UTC)
        elif isinstance(token.get("expires_in"), int | float):
            expires = self.clock() + timedelta(seconds=float(token["expires_in"]))
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=expires,
            scopes=_scopes(token.get("scope")),
        )
