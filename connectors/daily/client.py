"""Daily REST API client: the calls and nothing else, through connectors.http."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from connectors.daily import const
from connectors.errors import NotFound, PermanentError
from connectors.http import BearerClient


class RoomExists(PermanentError):
    """POST /rooms with a name that is taken (Daily answers 400 `... already exists`)."""


def unix_seconds(value: datetime) -> int:
    """An aware datetime as whole Unix seconds (Daily's `nbf` / `exp` unit)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return int(value.timestamp())


def _room_path(name: str) -> str:
    return f"/rooms/{quote(name, safe='')}"


def _json(response: requests.Response, where: str) -> Any:
    try:
        return response.json()
    except ValueError as err:
        raise PermanentError(f"daily {where}: response is not JSON", response.status_code) from err


class DailyClient(BearerClient):
    """Daily REST API v1: rooms, meeting tokens, meeting sessions and webhooks."""

    slug = const.SLUG
    default_base_url = const.API_BASE_URL
    auth_statuses = const.AUTH_STATUSES

    def get_domain(self) -> dict[str, Any]:
        """GET / : the domain configuration (`domain_name`, `domain_id`, `config`)."""
        return self.http.json("GET", "/")

    # --- rooms --------------------------------------------------------------------------

    def create_room(
        self,
        name: str,
        *,
        privacy: str = "private",
        nbf: datetime,
        exp: datetime,
        eject_at_room_exp: bool = True,
        **properties: Any,
    ) -> dict[str, Any]:
        """POST /rooms; raise RoomExists when the name is taken."""
        props = {
            "nbf": unix_seconds(nbf),
            "exp": unix_seconds(exp),
            "eject_at_room_exp": eject_at_room_exp,
            **properties,
        }
        body = {"name": name, "privacy": privacy, "properties": props}
        # 400 is read here: HttpClient's message keeps Daily's `error` code, not its `info`
        response = self.http.request("POST", "/rooms", json=body, ok=(200, 201, 400))
        if response.status_code != 400:
            return self._object(response, "POST /rooms")
        answer = _json(response, "POST /rooms")
        answer = answer if isinstance(answer, dict) else {}
        info = str(answer.get("info") or "")[:300]
        if const.ROOM_EXISTS_TEXT in info.lower():
            raise RoomExists(f"daily POST /rooms -> 400: room {name} already exists", 400)
        code = str(answer.get("error") or "invalid-request-error")[:100]
        raise PermanentError(f"daily POST /rooms -> 400: {code}: {info}", 400)

    def get_room(self, name: str) -> dict[str, Any]:
        """GET /rooms/{name}."""
        return self.http.json("GET", _room_path(name))

    def update_room(self, name: str, properties: Mapping[str, Any]) -> dict[str, Any]:
        """POST /rooms/{name} (Daily updates with POST); setting state, so safe to retry."""
        body = {"properties": dict(properties)}
        return self.http.json("POST", _room_path(name), json=body, idempotent=True)

    def delete_room(self, name: str) -> None:
        """DELETE /rooms/{name}; a room already gone (404) is done."""
        try:
            self.http.request("DELETE", _room_path(name))
        except NotFound:
            return

    # --- meeting tokens and sessions ----------------------------------------------------

    def create_meeting_token(
        self,
        room_name: str,
        *,
        user_id: str,
        user_name: str,
        is_owner: bool,
        nbf: datetime,
        exp: datetime,
    ) -> str:
        """POST /meeting-tokens for one room (always set: else it opens every room)."""
        props = {
            "room_name": room_name,
            "user_id": user_id,
            "user_name": user_name,
            "is_owner": is_owner,
            "nbf": unix_seconds(nbf),
            "exp": unix_seconds(exp),
            "eject_at_token_exp": True,
        }
        # minting twice is harmless, so a lost answer may be retried
        answer = self.http.json(
            "POST", "/meeting-tokens", json={"properties": props}, idempotent=True
        )
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise PermanentError("daily POST /meeting-tokens: response holds no token")
        return token

    def list_meetings(
        self,
        room: str,
        *,
        timeframe_start: datetime | None = None,
        limit: int = const.MEETINGS_PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every meeting session of a room (GET /meetings), paging with `starting_after`."""
        limit = max(1, limit)
        params: dict[str, Any] = {"room": room, "limit": limit}
        if timeframe_start is not None:
            params["timeframe_start"] = unix_seconds(timeframe_start)
        seen: set[str] = set()
        while True:
            page = self.http.json("GET", "/meetings", params=params).get("data")
            if not isinstance(page, list):
                raise PermanentError("daily GET /meetings: data is not a list")
            yield from (m for m in page if isinstance(m, dict))
            last = page[-1].get("id") if page and isinstance(page[-1], dict) else None
            if len(page) < limit or not isinstance(last, str) or last in seen:
                return
            seen.add(last)
            params = {**params, "starting_after": last}

    # --- webhooks -----------------------------------------------------------------------

    def list_webhooks(self) -> list[dict[str, Any]]:
        """GET /webhooks: every webhook of the domain, with `state` and `failedCount`."""
        answer = _json(self.http.request("GET", "/webhooks"), "GET /webhooks")
        if isinstance(answer, dict):  # tolerate a {"data": [...]} envelope
            answer = answer.get("data", [answer] if "uuid" in answer else [])
        if not isinstance(answer, list):
            raise PermanentError("daily GET /webhooks: response is not a list")
        return [w for w in answer if isinstance(w, dict)]

    def update_webhook(self, uuid: str, **fields: Any) -> dict[str, Any]:
        """POST /webhooks/{uuid} with Daily's field names (url, eventTypes, hmac, retryType...)."""
        path = f"/webhooks/{quote(uuid, safe='')}"
        return self.http.json("POST", path, json=fields, idempotent=True)

    def reactivate_webhook(self, webhook: Mapping[str, Any]) -> dict[str, Any]:
        """Re-activate a FAILED webhook: POST it again with its own url and eventTypes.

        Daily stops sending to a webhook after 3 failed deliveries until it is POSTed again
        (https://docs.daily.co/reference/rest-api/webhooks).
        """
        uuid, url = webhook.get("uuid"), webhook.get("url")
        if not isinstance(uuid, str) or not uuid or not isinstance(url, str) or not url:
            raise ValueError("webhook needs its uuid and url")
        fields: dict[str, Any] = {"url": url}
        if isinstance(webhook.get("eventTypes"), list):
            fields["eventTypes"] = list(webhook["eventTypes"])
        return self.update_webhook(uuid, **fields)

    @staticmethod
    def _object(response: requests.Response, where: str) -> dict[str, Any]:
        answer = _json(response, where)
        if not isinstance(answer, dict):
            raise PermanentError(f"daily {where}: response is not a JSON object")
        return answer
