"""Writes sessions into one Outlook calendar: retry-safe creates (transactionId), batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import LinkState, Outbound, PushResult, SessionView
from connectors.errors import AuthError, ConnectorError, NotFound, TransientError
from connectors.http import Unsent
from connectors.outlook import const
from connectors.outlook.calls import error_for, segment
from connectors.outlook.mapping import event_body, flag, version_of

if TYPE_CHECKING:
    from connectors.outlook.api import OutlookCalendarApi

Item = tuple[str, SessionView, LinkState | None]
"""One batch entry: (`create` | `update` | `delete`, the session, its link when known)."""

OPS = frozenset({"create", "update", "delete"})


class OutlookOutbound(Outbound):
    """Creates, patches and deletes the events of sessions in one calendar."""

    def __init__(
        self, api: OutlookCalendarApi, calendar_id: str, options: Mapping[str, Any]
    ) -> None:
        self.api = api
        self.calendar_id = calendar_id
        self.options: dict[str, Any] = {"invite_attendee": flag(options.get("invite_attendee"))}

    # --- one call each --------------------------------------------------------------------

    def create(self, session: SessionView) -> PushResult:
        """POST the event with the session's transactionId: a retry returns the same event."""
        method, url, body = self._request("create", session, None)
        # transactionId makes the POST safe to repeat, so lost answers are retried too
        event = self.api.client.json(method, url, json=body, idempotent=True)
        return self._result(event)

    def update(self, session: SessionView, link: LinkState) -> PushResult:
        """PATCH the event to match the session; an event that is gone is created again."""
        if not link.external_id:
            return self.create(session)
        method, url, body = self._request("update", session, link)
        try:
            event = self.api.client.json(method, url, json=body, idempotent=True)
        except NotFound:
            return self.create(session)
        return self._result(event, link.external_id)

    def delete(self, session: SessionView, link: LinkState) -> None:
        """DELETE the event; already gone (404) or never made is done."""
        if not link.external_id:
            return
        method, url, _ = self._request("delete", session, link)
        try:
            self.api.client.request(method, url)
        except NotFound:
            return

    # --- many at once ---------------------------------------------------------------------

    def batch_write(self, items: Sequence[Item]) -> list[PushResult | Exception]:
        """Write many sessions with JSON batches (≤ 20 requests each), results in item order.

        Each item gets a PushResult (a delete's carries `deleted: True`) or its own connector
        error. Items answered 429 are sent again after their Retry-After (a few rounds), then
        get a TransientError; a patch answered 404 is created one by one. A 401 (or a failure
        of a whole batch request) is raised.
        """
        for op, _, _ in items:
            if op not in OPS:
                raise ValueError(f"unknown batch op {op!r}")
        results: list[PushResult | Exception] = []
        for at in range(0, len(items), const.BATCH_SIZE):
            results += self._batch(items[at : at + const.BATCH_SIZE])
        return results

    def _batch(self, items: Sequence[Item]) -> list[PushResult | Exception]:
        done: dict[int, PushResult | Exception] = {}
        pending = []
        for index, (op, _, link) in enumerate(items):
            if op == "delete" and not (link and link.external_id):
                done[index] = self._deleted("")  # never made: nothing to delete
            else:
                pending.append(index)
        client = self.api.client
        for attempt in range(1, const.BATCH_ATTEMPTS + 1):
            if not pending:
                break
            requests = []
            for index in pending:
                method, url, body = self._request(*items[index])
                entry: dict[str, Any] = {"id": str(index), "method": method, "url": url}
                entry["headers"] = {"Prefer": const.PREFER}
                if body is not None:
                    entry["body"] = body
                    entry["headers"]["Content-Type"] = "application/json"
                requests.append(entry)
            answer = client.json("POST", "/$batch", json={"requests": requests}, idempotent=True)
            answers = {
                str(r.get("id")): r for r in answer.get("responses") or [] if isinstance(r, dict)
            }
            throttled: list[tuple[int, Exception]] = []
            for index in pending:
                found = answers.get(str(index))
                outcome = self._finish(*items[index], found)
                if isinstance(outcome, Unsent) and attempt < const.BATCH_ATTEMPTS:
                    throttled.append((index, outcome))
                else:
                    done[index] = outcome
            if not throttled:
                break
            pending = [index for index, _ in throttled]
            waits = [e.retry_after for _, e in throttled if isinstance(e, TransientError)]
            client.sleep(min(max([w for w in waits if w is not None] or [1.0]), client.max_wait))
        return [done[index] for index in range(len(items))]

    def _finish(
        self, op: str, session: SessionView, link: LinkState | None, found: Any
    ) -> PushResult | Exception:
        if not isinstance(found, Mapping):
            return TransientError(f"outlook batch {op}: no answer for the item")
        status = int(found.get("status") or 0)
        body = found.get("body")
        ident = link.external_id if link and link.external_id else ""
        deleted = self._deleted(ident)
        if 200 <= status < 300:
            if op == "delete":
                return deleted
            return self._result(body if isinstance(body, Mapping) else {}, ident)
        headers = found.get("headers")
        error = error_for(status, headers if isinstance(headers, Mapping) else {}, body, op)
        if isinstance(error, AuthError):
            raise error  # the connection is refused: nothing else can succeed
        try:
            if isinstance(error, NotFound) and op == "delete":
                return deleted
            if isinstance(error, NotFound) and op == "update":
                return self.create(session)
        except AuthError:
            raise
        except ConnectorError as err:  # the follow-up call failed: that item's error
            return err
        return error

    # --- requests and helpers -------------------------------------------------------------

    def _request(
        self, op: str, session: SessionView, link: LinkState | None
    ) -> tuple[str, str, dict[str, Any] | None]:
        """(method, path below the API base, body) of one write."""
        ident = link.external_id if link else None
        if op == "create" or (op == "update" and not ident):
            path = f"/me/calendars/{segment(self.calendar_id)}/events"
            return "POST", path, event_body(session, self.options, create=True)
        if not ident:
            raise ValueError(f"{op} needs the event id of the link")
        if op == "update":
            return "PATCH", f"/me/events/{segment(ident)}", event_body(session, self.options)
        return "DELETE", f"/me/events/{segment(ident)}", None

    def _deleted(self, ident: str) -> PushResult:
        return PushResult(ident, data={"calendar_id": self.calendar_id, "deleted": True})

    def _result(self, event: Mapping[str, Any], fallback: str = "") -> PushResult:
        ident = event.get("id")
        return PushResult(
            external_id=ident if isinstance(ident, str) and ident else fallback,
            remote_version=version_of(event),
            data={"calendar_id": self.calendar_id},
        )
