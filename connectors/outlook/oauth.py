"""Microsoft identity platform OAuth through MSAL: consent flow, token cache refresh, api.

MSAL keeps (and rotates) refresh tokens inside its token cache, so a TokenSet carries no
refresh token: `extra["msal_cache"]` holds the serialized cache and `extra["home_account_id"]`
the account it belongs to (https://learn.microsoft.com/entra/msal/python/advanced/msal-python-token-cache-serialization).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from connectors.calendar import OAuth, TokenSet
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.outlook import const
from connectors.outlook.api import OutlookCalendarApi
from connectors.outlook.calls import GraphSession

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: MSAL's cache of discovery GETs (24 h) and of throttled token answers, shared by every
#: OutlookOAuth so the authority's openid-configuration is read once per process
_HTTP_CACHE: dict[Any, Any] = {}
#: OAuth errors after which only a new consent helps
_REAUTH_ERRORS = frozenset(
    {
        "invalid_grant",
        "interaction_required",
        "consent_required",
        "login_required",
        "access_denied",  # the coach declined consent
    }
)
_RETRYABLE_ERRORS = frozenset({"server_error", "temporarily_unavailable"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OutlookOAuth(OAuth):
    """The hub's Entra ID app (confidential client) for delegated calendar access.

    The connect page uses `begin()`/`finish()` (PKCE, nonce and state checked by MSAL); the
    flow dict `begin()` returns holds the PKCE verifier and must be kept server-side (or
    encrypted) between the redirect and the callback.
    """

    def __init__(
        self,
        settings: Mapping[str, str],
        *,
        timeout: float = 15.0,
        clock: Clock = _utcnow,
        http_cache: MutableMapping[Any, Any] | None = None,
    ) -> None:
        client_id, secret = settings.get("client_id"), settings.get("client_secret")
        if not client_id or not secret:
            raise PermanentError("outlook OAuth needs client_id and client_secret")
        self.client_id, self.client_secret = client_id, secret
        base = (settings.get("authority_url") or const.AUTHORITY_URL).rstrip("/")
        self.authority = f"{base}/{settings.get('tenant') or const.TENANT}"
        host = urlsplit(self.authority)
        if host.scheme != "https" or not host.hostname:
            # MSAL only accepts https authorities (msal/authority.py canonicalize)
            raise PermanentError("outlook authority_url must be https")
        #: Microsoft's own hosts get MSAL's authority validation and instance discovery
        #: (against login.microsoftonline.com); any other (the loopback sandbox) gets none
        self.known_authority = host.hostname in const.KNOWN_AUTHORITY_HOSTS
        self.api_url = (settings.get("api_url") or const.API_URL).rstrip("/")
        self.ca_bundle = settings.get("ca_bundle") or None
        self.timeout = timeout
        self.clock = clock
        self.http_cache = _HTTP_CACHE if http_cache is None else http_cache

    def app(self, cache: msal.SerializableTokenCache) -> Any:
        """An MSAL confidential client over `cache` (reads the openid-configuration once)."""
        options: dict[str, Any] = {}
        if not self.known_authority:
            options = {"validate_authority": False, "instance_discovery": False}
        try:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self.client_secret,
                authority=self.authority,
                token_cache=cache,
                # our session: the sandbox's CA bundle must beat REQUESTS_CA_BUNDLE, which
                # msal's own `verify=` session would let the environment override
                http_client=GraphSession(ca_bundle=self.ca_bundle, timeout=self.timeout),
                http_cache=self.http_cache,
                **options,
            )
        except (requests.RequestException, MsalServiceError) as err:
            raise TransientError(f"outlook authority: {type(err).__name__}") from err
        except ValueError as err:  # the authority's openid-configuration is unusable
            raise PermanentError("outlook authority configuration could not be read") from err

    # --- the connect page ------------------------------------------------------------------

    def begin(
        self, redirect_uri: str, state: str, *, response_mode: str = "query"
    ) -> tuple[str, dict[str, Any]]:
        """(consent URL, flow to keep until the callback): PKCE, nonce and our state.

        The hub uses `query`: the answer is a GET to `redirect_uri`, which carries the
        SameSite=Lax session cookie that binds the callback to the browser that started it (a
        cross-site `form_post` cannot). PKCE and the client secret protect the code in the
        URL; msal's advisory warning about form_post is silenced for that reason only.
        `select_account` rather than `consent`: Entra issues refresh tokens without a forced
        consent screen, and tenants that forbid user consent would refuse `consent`.
        """
        if not state:
            raise ValueError("state is required (the hub signs and checks it)")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*form_post.*", category=UserWarning)
            flow = self.app(msal.SerializableTokenCache()).initiate_auth_code_flow(
                list(const.SCOPES),
                redirect_uri=redirect_uri,
                state=state,
                prompt="select_account",
                response_mode=response_mode,
            )
        return str(flow["auth_uri"]), dict(flow)

    def finish(
        self, redirect_uri: str, query: Mapping[str, str], flow: Mapping[str, Any]
    ) -> TokenSet:
        """Redeem the callback's parameters (form or query) with the kept flow.

        AuthError when refused (declined consent, invalid_grant) or forged (state, nonce).
        """
        if flow.get("redirect_uri") not in (None, redirect_uri):
            raise AuthError("outlook: callback redirect_uri differs from the flow's")
        cache = msal.SerializableTokenCache()
        app = self.app(cache)
        try:
            result = app.acquire_token_by_auth_code_flow(dict(flow), dict(query))
        except json.JSONDecodeError as err:
            raise TransientError("outlook token endpoint: answer is not JSON") from err
        except ValueError as err:  # state mismatch, or a flow that is not ours
            raise AuthError("outlook: callback does not match the flow (state)") from err
        except RuntimeError as err:  # msal IdTokenError: nonce, issuer or audience
            raise AuthError("outlook: the id token does not match the flow") from err
        except (requests.RequestException, MsalServiceError) as err:  # 5xx, network
            raise TransientError(f"outlook token endpoint: {type(err).__name__}") from err
        return self._tokens(result, app, cache)

    # --- the OAuth contract -----------------------------------------------------------------

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """A consent URL without PKCE, paired with `exchange()`; the hub uses begin/finish.

        It cannot be `begin()[0]`: that URL carries a PKCE challenge whose verifier would be
        lost, and Entra refuses a code redeemed without it. msal 1.39 deprecates this pair
        (DeprecationWarning) in favour of the flow methods; its answer is a query-string GET.
        """
        if not state:
            raise ValueError("state is required (the hub signs and checks it)")
        app = self.app(msal.SerializableTokenCache())
        url = app.get_authorization_request_url(
            list(const.SCOPES),
            state=state,
            redirect_uri=redirect_uri,
            prompt="select_account",
        )
        return str(url)

    def exchange(self, redirect_uri: str, code: str) -> TokenSet:
        """Trade a code from `authorization_url()` for tokens; AuthError when refused."""
        cache = msal.SerializableTokenCache()
        app = self.app(cache)
        try:
            result = app.acquire_token_by_authorization_code(
                code, list(const.SCOPES), redirect_uri=redirect_uri
            )
        except (requests.RequestException, MsalServiceError, ValueError) as err:
            raise TransientError(f"outlook token endpoint: {type(err).__name__}") from err
        except RuntimeError as err:  # msal IdTokenError
            raise AuthError("outlook: the id token was rejected") from err
        return self._tokens(result, app, cache)

    def refresh(self, tokens: TokenSet, *, force: bool = True) -> TokenSet:
        """A new access token from the cache's refresh token (MSAL rotates it in the cache).

        The cache is re-serialized only when MSAL changed it; `force=False` returns a cached
        access token that is still valid.
        """
        text = tokens.extra.get("msal_cache")
        if not isinstance(text, str) or not text:
            raise AuthError("outlook: no token cache; the account must be linked again")
        cache = msal.SerializableTokenCache()
        cache.deserialize(text)
        app = self.app(cache)
        account = self._account(app, tokens.extra.get("home_account_id"))
        try:
            result = app.acquire_token_silent_with_error(
                list(const.SCOPES), account, force_refresh=force
            )
        except (requests.RequestException, MsalServiceError, ValueError) as err:
            raise TransientError(f"outlook token endpoint: {type(err).__name__}") from err
        if result is None:
            # MSAL found no refresh token for the account; nothing a retry could fix
            raise AuthError("outlook: the token cache holds no refresh token")
        return self._tokens(result, app, cache, previous=tokens)

    def revoke(self, tokens: TokenSet) -> None:
        """Forget the account (best effort): Entra has no token revocation endpoint.

        The hub deletes the stored TokenSet; the coach withdraws consent at
        https://myapplications.microsoft.com. Removing the account from the cache only
        matters if the cache were kept.
        """
        text = tokens.extra.get("msal_cache")
        if not isinstance(text, str) or not text:
            return
        cache = msal.SerializableTokenCache()
        cache.deserialize(text)
        try:
            app = self.app(cache)
            for account in app.get_accounts():
                app.remove_account(account)
        except (TransientError, PermanentError, requests.RequestException) as err:
            logger.info("outlook revoke skipped", extra={"error": type(err).__name__})

    def api(self, tokens: TokenSet) -> OutlookCalendarApi:
        """Graph for these tokens' access token; the account names the mailbox's slots."""
        mailbox = tokens.extra.get("home_account_id")
        return OutlookCalendarApi(
            tokens.access_token,
            self.api_url,
            ca_bundle=self.ca_bundle,
            mailbox=mailbox if isinstance(mailbox, str) and mailbox else None,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _account(self, app: Any, home_account_id: Any) -> dict[str, Any]:
        accounts = [a for a in app.get_accounts() if isinstance(a, dict)]
        for account in accounts:
            if account.get("home_account_id") == home_account_id:
                return account
        if accounts and not home_account_id:
            return accounts[0]
        raise AuthError("outlook: the account is not in the token cache")

    def _tokens(
        self,
        result: Any,
        app: Any,
        cache: msal.SerializableTokenCache,
        previous: TokenSet | None = None,
    ) -> TokenSet:
        if not isinstance(result, dict):
            raise TransientError("outlook token endpoint: no answer")
        if "error" in result:
            raise self._refused(str(result["error"]), str(result.get("error_description") or ""))
        access = result.get("access_token")
        if not isinstance(access, str) or not access:
            raise PermanentError("outlook token response holds no access token")
        expires: datetime | None = None
        if isinstance(result.get("expires_in"), int | float):
            expires = self.clock() + timedelta(seconds=float(result["expires_in"]))
        scope = result.get("scope")
        scopes = tuple(scope.split()) if isinstance(scope, str) else ()
        if previous is not None and not cache.has_state_changed:
            extra: Mapping[str, Any] = previous.extra  # nothing new to store
        else:
            accounts = app.get_accounts()
            home = accounts[0].get("home_account_id") if accounts else None
            if previous is not None:
                home = previous.extra.get("home_account_id") or home
            extra = {"msal_cache": cache.serialize(), "home_account_id": home}
        return TokenSet(
            access_token=access,
            refresh_token=None,
            expires_at=expires,
            scopes=scopes or (previous.scopes if previous else ()),
            extra=extra,
        )

    def _refused(self, error: str, description: str) -> Exception:
        # descriptions hold AADSTS codes and trace ids, never tokens
        text = f"{error}: {description[:200]}".rstrip(": ")
        if error in _RETRYABLE_ERRORS:
            return TransientError(f"outlook token endpoint: {text}")
        if error in _REAUTH_ERRORS or not error:
            return AuthError(text)
        # invalid_client / unauthorized_client: the hub's app registration is wrong, which
        # a new consent would not fix
        return PermanentError(f"outlook OAuth refused: {text}")
