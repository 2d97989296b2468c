"""Writing sessions to Outlook: transactionId creates, patch, delete, JSON batches."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from connectors.base import LinkState, PushResult, SessionView
from connectors.errors import AuthError, PermanentError, TransientError
from connectors.outlook import OutlookCalendarApi, OutlookOutbound

API = "https://graph.test/v1.0"
EVENTS = f"{API}/me/calendars/cal-1/events"
BATCH = f"{API}/$batch"
SESSION_ID = "4f2a9c1e-7b3d-4e8f-9a6b-1c2d3e4f5a6b"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

Answer = tuple[int, dict[str, str], str]


def session(n: int = 0) -> SessionView:
    return SessionView(
        id=SESSION_ID if n == 0 else f"00000000-0000-4000-8000-{n:012d}",
        version=3,
        status="confirmed",
        title="Coaching",
        start_at=START,
        end_at=END,
        timezone="Europe/Rome",
        kind="video",
        coach_email="coach@x.test",
        coach_name="Coach",
        attendee_email="client@x.test",
        attendee_name="Client",
    )


def writer(sleeps: list[float] | None = None) -> OutlookOutbound:
    record = sleeps if sleeps is not None else []
    api = OutlookCalendarApi("tok", API, mailbox="outbound-test", sleep=record.append)
    return api.writer("cal-1", {})


def event(ident: str = "E1", key: str = "ck1") -> dict[str, Any]:
    return {"id": ident, "changeKey": key, "@odata.etag": f'W/"{key}"', "subject": "Coaching"}


def sent(call: Any) -> Any:
    return json.loads(call.request.body or b"")


@pytest.fixture
def rsps() -> Any:
    with responses.RequestsMock() as mock:
        yield mock


# --- one call each --------------------------------------------------------------------------


def test_create_posts_with_the_transaction_id(rsps: responses.RequestsMock) -> None:
    rsps.post(EVENTS, status=201, json=event())
    result = writer().create(session())
    assert result == PushResult("E1", "ck1", {"calendar_id": "cal-1"})
    body = sent(rsps.calls[0])
    assert body["transactionId"] == SESSION_ID
    assert rsps.calls[0].request.headers["Prefer"] == 'IdType="ImmutableId", outlook.timezone="UTC"'


def test_a_retried_create_returns_the_same_event(rsps: responses.RequestsMock) -> None:
    # the first answer is lost (504); Graph dedups the retry by transactionId
    rsps.post(EVENTS, status=504)
    rsps.post(EVENTS, status=201, json=event())
    sleeps: list[float] = []
    result = writer(sleeps).create(session())
    assert result.external_id == "E1"
    assert len(rsps.calls) == 2
    assert sent(rsps.calls[0])["transactionId"] == sent(rsps.calls[1])["transactionId"]
    assert len(sleeps) == 1


def test_update_patches_the_linked_event(rsps: responses.RequestsMock) -> None:
    rsps.patch(f"{API}/me/events/E1", json=event(key="ck2"))
    result = writer().update(session(), LinkState("E1", "ck1", 2))
    assert (result.external_id, result.remote_version) == ("E1", "ck2")
    assert "transactionId" not in sent(rsps.calls[0])


def test_update_of_a_missing_event_creates_it(rsps: responses.RequestsMock) -> None:
    rsps.patch(f"{API}/me/events/E1", status=404, json={"error": {"code": "ErrorItemNotFound"}})
    rsps.post(EVENTS, status=201, json=event("E2"))
    result = writer().update(session(), LinkState("E1"))
    assert result.external_id == "E2"
    assert sent(rsps.calls[1])["transactionId"] == SESSION_ID


def test_delete_and_already_gone(rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{API}/me/events/E1", status=204)
    rsps.delete(f"{API}/me/events/E2", status=404, json={"error": {"code": "ErrorItemNotFound"}})
    out = writer()
    out.delete(session(), LinkState("E1"))
    out.delete(session(), LinkState("E2"))
    out.delete(session(), LinkState(None))  # never created: no call
    assert len(rsps.calls) == 2


def test_a_refused_write_is_permanent(rsps: responses.RequestsMock) -> None:
    rsps.post(EVENTS, status=403, json={"error": {"code": "ErrorAccessDenied"}})
    with pytest.raises(PermanentError, match="403"):
        writer().create(session())


# --- batches --------------------------------------------------------------------------------


def batch_callback(
    answer: Callable[[dict[str, Any]], Answer], seen: list[list[dict[str, Any]]]
) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    """A $batch endpoint answering each inner request with `answer(request)`."""

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        inner = json.loads(request.body)["requests"]
        seen.append(inner)
        out = []
        for item in reversed(inner):  # Graph does not keep the order
            status, headers, body = answer(item)
            entry = {"id": item["id"], "status": status, "headers": headers}
            if body:
                entry["body"] = json.loads(body)
            out.append(entry)
        return 200, {}, json.dumps({"responses": out})

    return reply


def created(item: dict[str, Any]) -> Answer:
    if item["method"] == "DELETE":
        return 204, {}, ""
    ident = item["body"].get("transactionId") or item["url"].rsplit("/", 1)[-1]
    return 201, {}, json.dumps(event(f"ev-{ident}"))


def test_batches_hold_at_most_20_requests(rsps: responses.RequestsMock) -> None:
    seen: list[list[dict[str, Any]]] = []
    rsps.add_callback(responses.POST, BATCH, callback=batch_callback(created, seen))
    items = [("create", session(n + 1), None) for n in range(45)]
    results = writer().batch_write(items)
    assert [len(b) for b in seen] == [20, 20, 5]
    assert [r.external_id for r in results if isinstance(r, PushResult)] == [
        f"ev-{s.id}" for _, s, _ in items
    ]
    first = seen[0][0]
    assert first["method"] == "POST"
    assert first["url"] == "/me/calendars/cal-1/events"
    assert first["headers"]["Prefer"] == 'IdType="ImmutableId", outlook.timezone="UTC"'


def test_mixed_ops_and_their_outcomes(rsps: responses.RequestsMock) -> None:
    def answer(item: dict[str, Any]) -> Answer:
        if item["url"] == "/me/events/gone":
            return 404, {}, json.dumps({"error": {"code": "ErrorItemNotFound"}})
        if item["url"] == "/me/events/locked":
            return 403, {}, json.dumps({"error": {"code": "ErrorAccessDenied"}})
        return created(item)

    seen: list[list[dict[str, Any]]] = []
    rsps.add_callback(responses.POST, BATCH, callback=batch_callback(answer, seen))
    rsps.post(EVENTS, status=201, json=event("recreated"))
    results = writer().batch_write(
        [
            ("update", session(1), LinkState("E1")),
            ("update", session(2), LinkState("gone")),  # 404 → created one by one
            ("delete", session(3), LinkState("gone")),  # 404 → done
            ("delete", session(4), None),  # never created → done without a request
            ("update", session(5), LinkState("locked")),
        ]
    )
    assert isinstance(results[0], PushResult)
    assert results[0].external_id == "ev-E1"
    assert isinstance(results[1], PushResult)
    assert results[1].external_id == "recreated"
    assert results[2] == PushResult("gone", data={"calendar_id": "cal-1", "deleted": True})
    assert isinstance(results[3], PushResult)
    assert results[3].data["deleted"] is True
    assert isinstance(results[4], PermanentError)
    assert results[4].status == 403
    assert [i["method"] for i in seen[0]] == ["PATCH", "PATCH", "DELETE", "PATCH"]


def test_a_throttled_item_is_sent_again_after_its_retry_after(
    rsps: responses.RequestsMock,
) -> None:
    calls = {"n": 0}

    def answer(item: dict[str, Any]) -> Answer:
        if item["id"] == "1" and calls["n"] < 1:
            calls["n"] += 1
            return 429, {"Retry-After": "2"}, json.dumps({"error": {"code": "TooManyRequests"}})
        return created(item)

    seen: list[list[dict[str, Any]]] = []
    rsps.add_callback(responses.POST, BATCH, callback=batch_callback(answer, seen))
    sleeps: list[float] = []
    items = [("create", session(n + 1), None) for n in range(3)]
    results = writer(sleeps).batch_write(items)
    assert all(isinstance(r, PushResult) for r in results)
    assert [[i["id"] for i in b] for b in seen] == [["0", "1", "2"], ["1"]]
    assert sleeps == [2.0]


def test_an_item_throttled_every_time_gets_a_transient_error(
    rsps: responses.RequestsMock,
) -> None:
    def answer(item: dict[str, Any]) -> Answer:
        if item["id"] == "0":
            return 429, {"Retry-After": "1"}, ""
        return created(item)

    seen: list[list[dict[str, Any]]] = []
    rsps.add_callback(responses.POST, BATCH, callback=batch_callback(answer, seen))
    results = writer().batch_write([("create", session(1), None), ("create", session(2), None)])
    assert isinstance(results[0], TransientError)
    assert results[0].retry_after == 1.0
    assert isinstance(results[1], PushResult)
    assert len(seen) == 3  # BATCH_ATTEMPTS rounds


def test_a_refused_token_stops_the_batch(rsps: responses.RequestsMock) -> None:
    def answer(item: dict[str, Any]) -> Answer:
        return 401, {}, json.dumps({"error": {"code": "InvalidAuthenticationToken"}})

    rsps.add_callback(responses.POST, BATCH, callback=batch_callback(answer, []))
    with pytest.raises(AuthError):
        writer().batch_write([("create", session(1), None)])


def test_an_unknown_op_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown batch op"):
        writer().batch_write([("upsert", session(1), None)])
