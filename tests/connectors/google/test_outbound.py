"""Writing sessions to Google: insert under the session's id, adopt on 409, patch, delete, batch."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from googleapiclient.http import HttpMockSequence

from connectors.base import LinkState, PushResult, SessionView
from connectors.errors import AuthError, NotFound, PermanentError, TransientError
from connectors.google import GoogleCalendarApi, event_id
from connectors.google.calls import Caller
from tests.connectors.google.test_api import Reply, error, ok

API = "http://127.0.0.1:8765/google"
CAL = "coach@example.com"
EVENTS = f"{API}/calendar/v3/calendars/coach%40example.com/events"
SESSION_ID = "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
EID = "9sl9o7jr7l78v6jb3gmjsjqqdc"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def session(n: int = 0, **extra: Any) -> SessionView:
    fields: dict[str, Any] = {
        "id": SESSION_ID if n == 0 else f"00000000-0000-4000-8000-{n:012d}",
        "version": 3,
        "status": "confirmed",
        "title": "Coaching",
        "start_at": START,
        "end_at": END,
        "timezone": "Europe/Rome",
        "kind": "video",
        "coach_email": "coach@x.test",
        "coach_name": "Coach",
        "attendee_email": "client@x.test",
        "attendee_name": "Client",
        **extra,
    }
    return SessionView(**fields)


def event(ident: str = EID, etag: str = '"e1"', **extra: Any) -> dict[str, Any]:
    return {
        "kind": "calendar#event",
        "id": ident,
        "etag": etag,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={ident}",
        **extra,
    }


_REASONS = {200: "OK", 204: "No Content", 404: "Not Found", 409: "Conflict", 429: "Too Many"}


def batch_reply(parts: list[tuple[int, Any]]) -> Reply:
    """A multipart/mixed batch answer; part i answers the request with id `i`."""
    boundary = "batch_sessionhub_test"
    chunks = []
    for index, (status, body) in enumerate(parts):
        text = json.dumps(body) if body is not None else ""
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: <response-b29c5de2 + {index}>\r\n\r\n"
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\n\r\n{text}\r\n"
        )
    headers = {"status": "200", "content-type": f'multipart/mixed; boundary="{boundary}"'}
    return headers, "".join(chunks) + f"--{boundary}--\r\n"


def sent_parts(body: str) -> list[tuple[str, str]]:
    """(method, path) of each call inside a sent batch request (its application/http parts)."""
    lines = re.findall(r"^(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/1\.1", body, re.MULTILINE)
    return [(method, urlsplit(target).path) for method, target in lines]


class Writer:
    """A writer over a scripted HttpMockSequence."""

    def __init__(self, *replies: Reply, **options: Any) -> None:
        self.http = HttpMockSequence(list(replies))
        api = GoogleCalendarApi("tok", API, http=self.http, caller=Caller(sleep=lambda _: None))
        self.out = api.writer(CAL, options)

    @property
    def calls(self) -> list[tuple[str, str, dict[str, list[str]], Any]]:
        out = []
        for uri, method, body, _ in self.http.request_sequence:
            parts = urlsplit(uri)
            data = json.loads(body) if body and "/batch/" not in uri else None
            out.append((method, uri.split("?")[0], parse_qs(parts.query), data))
        return out


def result(ident: str = EID, etag: str = '"e1"') -> PushResult:
    link = f"https://www.google.com/calendar/event?eid={ident}"
    return PushResult(ident, etag, {"calendar_id": CAL, "html_link": link})


# --- create -------------------------------------------------------------------------------


def test_create_inserts_under_the_sessions_id() -> None:
    w = Writer(ok(event()))
    assert w.out.create(session()) == result()
    ((method, url, query, body),) = w.calls
    assert (method, url) == ("POST", EVENTS)
    assert query["sendUpdates"] == ["none"]
    assert body["id"] == EID == event_id(SESSION_ID)
    assert body["extendedProperties"]["private"]["sessionhub_session_id"] == SESSION_ID
    assert "attendees" not in body


def test_create_with_invitations() -> None:
    w = Writer(ok(event()), send_updates="all", invite_attendee=True)
    w.out.create(session())
    (_, _, query, body) = w.calls[0]
    assert query["sendUpdates"] == ["all"]
    assert body["attendees"] == [{"email": "client@x.test", "displayName": "Client"}]


def test_create_retried_after_a_crash_adopts_the_event() -> None:
    """409: an earlier attempt inserted it and crashed before the hub recorded the link."""
    w = Writer(error(409, "duplicate"), ok(event(etag='"old"')), ok(event(etag='"e2"')))
    assert w.out.create(session()) == result(etag='"e2"')
    assert [(m, u) for m, u, _, _ in w.calls] == [
        ("POST", EVENTS),
        ("GET", f"{EVENTS}/{EID}"),
        ("PATCH", f"{EVENTS}/{EID}"),
    ]
    assert "status" not in w.calls[2][3]


def test_create_after_the_event_was_deleted_restores_it() -> None:
    """409 on an event deleted in Google (status cancelled): a full PUT brings it back."""
    w = Writer(
        error(409, "duplicate"),
        ok({"id": EID, "status": "cancelled", "etag": '"gone"'}),
        ok(event(etag='"e3"')),
    )
    assert w.out.create(session()) == result(etag='"e3"')
    method, url, query, body = w.calls[2]
    assert (method, url) == ("PUT", f"{EVENTS}/{EID}")
    assert body["status"] == "confirmed"
    assert body["summary"] == "Coaching"
    assert query["sendUpdates"] == ["none"]


def test_create_when_the_id_is_taken_elsewhere_fails_for_good() -> None:
    w = Writer(error(409, "duplicate"), error(404, "notFound"))
    with pytest.raises(PermanentError) as caught:
        w.out.create(session())
    assert caught.value.status == 409
    assert not isinstance(caught.value, NotFound)


def test_unknown_send_updates_is_refused() -> None:
    with pytest.raises(ValueError, match="send_updates"):
        Writer(send_updates="everyone")


# --- update and delete --------------------------------------------------------------------


def test_update_patches_the_linked_event() -> None:
    w = Writer(ok(event(etag='"e4"')))
    link = LinkState(external_id=EID, remote_version='"e1"', synced_version=2)
    assert w.out.update(session(location="Room 4"), link) == result(etag='"e4"')
    ((method, url, query, body),) = w.calls
    assert (method, url) == ("PATCH", f"{EVENTS}/{EID}")
    assert body["location"] == "Room 4"
    assert query["sendUpdates"] == ["none"]


def test_update_of_a_missing_event_creates_it() -> None:
    w = Writer(error(404, "notFound"), ok(event()))
    assert w.out.update(session(), LinkState(external_id="someotherid")) == result()
    assert [(m, u) for m, u, _, _ in w.calls] == [
        ("PATCH", f"{EVENTS}/someotherid"),
        ("POST", EVENTS),
    ]


GONE = [({"status": "204"}, ""), error(410, "deleted"), error(404, "notFound")]


@pytest.mark.parametrize("reply", GONE)
def test_delete_is_done_when_gone(reply: Reply) -> None:
    w = Writer(reply, send_updates="externalOnly")
    w.out.delete(session(), LinkState(external_id=EID))
    ((method, url, query, _),) = w.calls
    assert (method, url) == ("DELETE", f"{EVENTS}/{EID}")
    assert query["sendUpdates"] == ["externalOnly"]


def test_delete_refused_is_an_error() -> None:
    w = Writer(error(403, "forbiddenForNonOrganizer"))
    with pytest.raises(PermanentError):
        w.out.delete(session(), LinkState(external_id=EID))


# --- batch --------------------------------------------------------------------------------


def test_batch_goes_to_the_configured_host_in_one_request() -> None:
    w = Writer(batch_reply([(200, event()), (200, event("ev2", '"u"')), (204, None)]))
    items = [
        ("create", session(), None),
        ("update", session(2), LinkState(external_id="ev2")),
        ("delete", session(3), LinkState(external_id="ev3")),
    ]
    assert w.out.batch_write(items) == [
        result(),
        result("ev2", '"u"'),
        PushResult("ev3", None, {"calendar_id": CAL, "deleted": True}),
    ]
    ((uri, method, body, headers),) = w.http.request_sequence
    assert (method, uri) == ("POST", f"{API}/batch/calendar/v3")
    assert headers["authorization"] == "Bearer tok"
    assert sent_parts(body) == [
        ("POST", "/google/calendar/v3/calendars/coach%40example.com/events"),
        ("PATCH", "/google/calendar/v3/calendars/coach%40example.com/events/ev2"),
        ("DELETE", "/google/calendar/v3/calendars/coach%40example.com/events/ev3"),
    ]


def test_batch_finishes_conflicts_and_missing_events_one_by_one() -> None:
    w = Writer(
        batch_reply(
            [(409, {"error": {"code": 409, "errors": [{"reason": "duplicate"}]}}),
             (404, {"error": {"code": 404, "errors": [{"reason": "notFound"}]}}),
             (410, {"error": {"code": 410, "errors": [{"reason": "deleted"}]}}),
             (429, {"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}})]
        ),
        ok(event()),  # create: GET after the 409
        ok(event(etag='"e2"')),  # create: PATCH
        ok(event(event_id(session(2).id))),  # update: insert again
    )  # fmt: skip
    items = [
        ("create", session(), None),
        ("update", session(2), LinkState(external_id="lost")),
        ("delete", session(3), LinkState(external_id="ev3")),
        ("create", session(4), None),
    ]
    got = w.out.batch_write(items)
    assert got[0] == result(etag='"e2"')
    assert got[1] == result(event_id(session(2).id))
    assert got[2] == PushResult("ev3", None, {"calendar_id": CAL, "deleted": True})
    assert isinstance(got[3], TransientError)
    assert [m for m, *_ in w.calls] == ["POST", "GET", "PATCH", "POST"]


def test_batch_splits_into_requests_of_fifty() -> None:
    sessions = [session(n) for n in range(1, 52)]
    w = Writer(
        batch_reply([(200, event(event_id(s.id))) for s in sessions[:50]]),
        batch_reply([(200, event(event_id(sessions[50].id)))]),
    )
    got = w.out.batch_write([("create", s, None) for s in sessions])
    assert [r.external_id for r in got if isinstance(r, PushResult)] == [
        event_id(s.id) for s in sessions
    ]
    assert len(w.http.request_sequence) == 2


def test_batch_refused_credentials_raise() -> None:
    w = Writer(error(401, "authError", "Invalid Credentials"))
    with pytest.raises(AuthError):
        w.out.batch_write([("create", session(), None)])


def test_batch_server_error_is_retried() -> None:
    w = Writer(error(503, "backendError"), batch_reply([(200, event())]))
    assert w.out.batch_write([("create", session(), None)]) == [result()]


def test_batch_answer_missing_a_call_is_transient() -> None:
    w = Writer(*[batch_reply([(200, event())])] * 3)
    with pytest.raises(TransientError, match="missing"):
        w.out.batch_write([("create", session(), None), ("create", session(2), None)])


def test_batch_refuses_unknown_ops() -> None:
    with pytest.raises(ValueError, match="unknown batch op"):
        Writer().out.batch_write([("move", session(), None)])
