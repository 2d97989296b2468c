"""Writes sessions into one Google calendar: deterministic event ids, adopt on 409, batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import LinkState, Outbound, PushResult, SessionView
from connectors.errors import (
    AuthError,
    ConnectorError,
    NotFound,
    PermanentError,
    TransientError,
)
from connectors.google import const
from connectors.google.calls import error_for
from connectors.google.mapping import event_body, event_id, flag

if TYPE_CHECKING:
    from connectors.google.api import GoogleCalendarApi

Item = tuple[str, SessionView, LinkState | None]
"""One batch entry: (`create` | `update` | `delete`, the session, its link when known)."""

OPS = frozenset({"create", "update", "delete"})


class GoogleOutbound(Outbound):
    """Creates, patches and deletes the events of sessions in one calendar."""

    def __init__(
        self, api: GoogleCalendarApi, calendar_id: str, options: Mapping[str, Any]
    ) -> None:
        send_updates = str(options.get("send_updates") or "none")
        if send_updates not in const.SEND_UPDATES:
            raise ValueError(f"send_updates must be one of {sorted(const.SEND_UPDATES)}")
        self.api = api
        self.calendar_id = calendar_id
        self.send_updates = send_updates
        self.options: dict[str, Any] = {"invite_attendee": flag(options.get("invite_attendee"))}

    # --- one call each --------------------------------------------------------------------

    def create(self, session: SessionView) -> PushResult:
        """Insert the event under the session's id; a 409 (it exists) adopts or restores it."""
        try:
            event = self._call("events.insert", self._insert(session))
        except PermanentError as err:
            if err.status != 409:
                raise
            event = self._adopt(session)
        return self._result(event, event_id(session.id))

    def update(self, session: SessionView, link: LinkState) -> PushResult:
        """Patch the event to match the session; an event that is gone is created again."""
        try:
            event = self._call("events.patch", self._patch(session, link))
        except NotFound:
            return self.create(session)
        return self._result(event, self._event_id(session, link))

    def delete(self, session: SessionView, link: LinkState) -> None:
        """Delete the event; already gone (404/410) is done."""
        try:
            self._call("events.delete", self._delete(session, link))
        except NotFound:
            return

    # --- many at once ---------------------------------------------------------------------

    def batch_write(self, items: Sequence[Item]) -> list[PushResult | Exception]:
        """Write many sessions with batch requests (≤ BATCH_SIZE calls each), in item order.

        Each item gets a PushResult (a delete's carries `deleted: True`) or the connector error
        of its own call; inserts answered 409 and patches answered 404 are finished one by one.
        A failure of a whole batch request (auth, transport) is raised.
        """
        results: list[PushResult | Exception] = []
        for at in range(0, len(items), const.BATCH_SIZE):
            results += self._batch(items[at : at + const.BATCH_SIZE])
        return results

    def _batch(self, items: Sequence[Item]) -> list[PushResult | Exception]:
        for op, _, _ in items:
            if op not in OPS:
                raise ValueError(f"unknown batch op {op!r}")
        answers: dict[str, tuple[Any, Exception | None]] = {}

        def send() -> None:
            answers.clear()
            batch = self.api.new_batch(lambda rid, resp, exc: answers.update({rid: (resp, exc)}))
            for index, (op, session, link) in enumerate(items):
                batch.add(self._request(op, session, link), request_id=str(index))
            try:
                batch.execute(http=self.api.http)
            except KeyError as err:  # googleapiclient looks up each call's part by id
                raise TransientError("google batch: the answer is missing a call") from err

        self.api.caller.run("batch", send)
        return [
            self._finish(op, session, link, *answers[str(index)])
            for index, (op, session, link) in enumerate(items)
        ]

    def _finish(
        self,
        op: str,
        session: SessionView,
        link: LinkState | None,
        answer: Any,
        failure: Exception | None,
    ) -> PushResult | Exception:
        ident = self._event_id(session, link)
        deleted = PushResult(ident, data={"calendar_id": self.calendar_id, "deleted": True})
        if isinstance(failure, ConnectorError):
            error: Exception | None = failure
        else:
            error = error_for(failure, f"batch events.{op}") if failure is not None else None
        try:
            if error is None:
                if op == "delete":
                    return deleted
                return self._result(answer if isinstance(answer, dict) else {}, ident)
            if op == "create" and isinstance(error, PermanentError) and error.status == 409:
                return self._result(self._adopt(session), ident)
            if isinstance(error, NotFound) and op == "delete":
                return deleted
            if isinstance(error, NotFound) and op == "update":
                return self.create(session)
            return error
        except AuthError:
            raise  # the connection is refused: nothing else in the batch can succeed
        except ConnectorError as err:  # a follow-up call failed: that item's error
            return err

    # --- requests and helpers -------------------------------------------------------------

    def _request(self, op: str, session: SessionView, link: LinkState | None) -> Any:
        if op == "create":
            return self._insert(session)
        empty = LinkState(external_id=None)
        if op == "update":
            return self._patch(session, link or empty)
        return self._delete(session, link or empty)

    def _insert(self, session: SessionView) -> Any:
        body = {"id": event_id(session.id), **event_body(session, self.options)}
        return self.api.service.events().insert(
            calendarId=self.calendar_id, body=body, sendUpdates=self.send_updates
        )

    def _patch(self, session: SessionView, link: LinkState) -> Any:
        return self.api.service.events().patch(
            calendarId=self.calendar_id,
            eventId=self._event_id(session, link),
            body=event_body(session, self.options),
            sendUpdates=self.send_updates,
        )

    def _delete(self, session: SessionView, link: LinkState) -> Any:
        return self.api.service.events().delete(
            calendarId=self.calendar_id,
            eventId=self._event_id(session, link),
            sendUpdates=self.send_updates,
        )

    def _adopt(self, session: SessionView) -> dict[str, Any]:
        """The event already exists (a retry after a crash, or a re-link): make it the session's.

        A deleted event keeps its id as `cancelled`; a full PUT with `confirmed` restores it.
        """
        ident = event_id(session.id)
        events = self.api.service.events()
        try:
            found = self._call("events.get", events.get(calendarId=self.calendar_id, eventId=ident))
        except NotFound as err:  # the id is taken, yet not by an event of this calendar
            raise PermanentError(
                f"google events.insert -> 409: event id {ident} taken", 409
            ) from err
        body = event_body(session, self.options)
        if found.get("status") == "cancelled":
            body = {"id": ident, **body, "status": "confirmed"}
            request = events.update(
                calendarId=self.calendar_id, eventId=ident, body=body, sendUpdates=self.send_updates
            )
            return self._call("events.update", request)
        request = events.patch(
            calendarId=self.calendar_id, eventId=ident, body=body, sendUpdates=self.send_updates
        )
        return self._call("events.patch", request)

    def _call(self, what: str, request: Any) -> dict[str, Any]:
        # inserts carry a deterministic id and the rest set state: all are safe to repeat
        return self.api.execute(what, request)

    def _event_id(self, session: SessionView, link: LinkState | None) -> str:
        return (link.external_id if link else None) or event_id(session.id)

    def _result(self, event: Mapping[str, Any], fallback: str) -> PushResult:
        etag, link = event.get("etag"), event.get("htmlLink")
        return PushResult(
            external_id=str(event.get("id") or fallback),
            remote_version=etag if isinstance(etag, str) else None,
            data={"calendar_id": self.calendar_id, "html_link": link},
        )
