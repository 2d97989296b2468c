"""Property tests: whatever arrives, a connector only ever raises its declared errors.

`verify` may only raise InvalidSignature; `identify` never raises; `parse` (and a calendar
connector's `push_items`) may only raise InvalidPayload; every change a parse returns either
fits the canonical limits or is refused with InvalidPayload (connectors/limits.py).
Any other exception escaping is a bug: the webhook route would answer 500, or the ingest job
would crash and be retried instead of recording the delivery as failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import event as hypothesis_event
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from connectors.base import Connector, InboundEvent, lower_headers
from connectors.calendar import CalendarConnector, readable_events
from connectors.errors import InvalidPayload, InvalidSignature
from connectors.google import mapping as google_mapping
from connectors.limits import check_change
from connectors.outlook import mapping as outlook_mapping
from tests.fuzz.signers import TARGETS, Target, google_headers, with_client_state
from tests.fuzz.strategies import (
    FUZZ,
    any_body,
    dumps,
    header_values,
    headers_for,
    json_values,
    mutated,
    samples,
    sweep,
)

SIGNED = [TARGETS[s] for s in ("calcom", "daily", "stripe")]
ALL = list(TARGETS.values())


def refusal(call: Callable[[], object], error: type[InvalidPayload | InvalidSignature]) -> str:
    """The reason `call` raised `error` with, or "" when it returned; anything else escapes."""
    reason = ""
    try:
        call()
    except error as err:
        reason = err.reason or f"{error.__name__} without a reason"
        raised = err
    else:
        return ""
    assert isinstance(raised.reason, str)
    assert raised.reason, reason
    return reason


def parse_cleanly(connector: Connector, raw: bytes, headers: dict[str, str]) -> str:
    """Identify and parse a verified delivery; only InvalidPayload may escape. Its outcome."""
    event_type, key = connector.identify(headers, raw)
    assert isinstance(event_type, str)
    assert isinstance(key, str)
    assert event_type
    assert key
    if isinstance(connector, CalendarConnector):
        refusal(lambda: connector.push_items(headers, raw), InvalidPayload)
    parsed: list[InboundEvent] = []
    if refusal(lambda: parsed.append(connector.parse(raw, headers)), InvalidPayload):
        return outcome("invalid")
    [event] = parsed
    assert isinstance(event.event_type, str)
    for change in event.changes:
        if refusal(partial(check_change, change), InvalidPayload):
            return outcome("too big")
    return outcome("parsed" if event.changes else "ignored")


def outcome(name: str) -> str:
    """Record how a parse ended (shown by --hypothesis-show-statistics) and return it."""
    if currently_in_test_context():
        hypothesis_event(name)
    return name


HEADERS = {t.slug: headers_for(t.header_names) for t in ALL}
QUERIES = st.dictionaries(st.sampled_from(["validationToken", "x"]), st.text(max_size=40))
SECRETS = st.lists(header_values(), max_size=3)


@pytest.mark.parametrize("target", ALL, ids=repr)
@FUZZ
@given(data=st.data())
def test_unsigned_requests_are_refused(target: Target, data: st.DataObject) -> None:
    """As the route does: the handshake never raises, then verify refuses the request."""
    headers = data.draw(HEADERS[target.slug], "headers")
    raw = data.draw(any_body(), "body")
    reply = target.connector.handshake(data.draw(QUERIES, "query"), headers, raw)
    if reply is not None:
        assert 200 <= reply.status < 500
        assert isinstance(reply.body, str)
        return
    secrets = data.draw(st.one_of(st.just(list(target.secrets)), SECRETS), "secrets")
    with pytest.raises(InvalidSignature) as caught:
        target.connector.verify(headers, raw, secrets)
    assert caught.value.reason


@pytest.mark.parametrize("target", SIGNED, ids=repr)
@FUZZ
@given(raw=any_body())
def test_validly_signed_garbage_is_only_ever_invalid_payload(target: Target, raw: bytes) -> None:
    headers = lower_headers(target.sign(raw))
    reason = refusal(
        lambda: target.connector.verify(headers, raw, target.secrets), InvalidSignature
    )
    if reason:
        # Stripe signs text: a body that is not UTF-8 cannot carry its signature
        assert target.slug == "stripe", reason
        assert "UTF-8" in reason
        return
    parse_cleanly(target.connector, raw, headers)


@pytest.mark.parametrize("target", ALL, ids=repr)
@FUZZ
@given(data=st.data())
def test_mutated_real_payloads_parse_or_fail_cleanly(target: Target, data: st.DataObject) -> None:
    if target.slug == "google":  # a push is all headers: mutate those
        pushes = [s for s in samples("google") if "headers" in s]
        base = data.draw(st.sampled_from(pushes), "sample")
        headers = lower_headers(base["headers"])
        headers.update(google_headers(headers.get("x-goog-resource-state", "exists")))
        mutated_headers = data.draw(mutated(headers), "mutated")
        headers = {str(k): str(v) for k, v in mutated_headers.items()}
        raw = b""
    else:
        doc = data.draw(st.sampled_from(samples(target.slug)), "sample")
        doc = with_client_state(data.draw(mutated(doc), "mutated"))
        raw = dumps(doc)
        headers = lower_headers(target.sign(raw))
    reason = refusal(
        lambda: target.connector.verify(headers, raw, target.secrets), InvalidSignature
    )
    if reason:
        # a valid signature (or channel token) is only refused for what it cannot cover
        assert target.slug in ("google", "outlook"), reason
        return
    parse_cleanly(target.connector, raw, headers)


@pytest.mark.parametrize("target", [t for t in ALL if t.slug != "google"], ids=repr)
@FUZZ
@given(doc=json_values)
def test_arbitrary_json_parses_or_fails_cleanly(target: Target, doc: Any) -> None:
    raw = dumps(doc)
    parse_cleanly(target.connector, raw, lower_headers(target.sign(raw)))


@FUZZ
@given(headers=HEADERS["google"])
def test_google_pushes_with_arbitrary_headers(headers: dict[str, str]) -> None:
    google = TARGETS["google"].connector
    refusal(lambda: google.verify(headers, b"", [TARGETS["google"].secrets[0]]), InvalidSignature)
    parse_cleanly(google, b"", headers)


def test_the_samples_themselves_parse() -> None:
    """The mutation base is sound: every recorded payload parses without a limit hit."""
    for target in SIGNED:
        for doc in samples(target.slug):
            raw = json.dumps(doc).encode()
            headers = lower_headers(target.sign(raw))
            target.connector.verify(headers, raw, target.secrets)
            want = ("invalid",) if doc == {"test": "test"} else ("parsed", "ignored")
            assert parse_cleanly(target.connector, raw, headers) in want


@pytest.mark.parametrize("target", [*SIGNED, TARGETS["outlook"]], ids=repr)
def test_every_single_path_mutation_of_every_sample(target: Target) -> None:
    """Exhaustive sweep: each node of each sample deleted, retyped, set to each edge value."""
    tried, failures = 0, []
    for doc in samples(target.slug):
        doc = with_client_state(doc)
        for what in sweep(doc):
            raw = dumps(doc)
            headers = lower_headers(target.sign(raw))
            tried += 1
            try:
                target.connector.verify(headers, raw, target.secrets)
                parse_cleanly(target.connector, raw, headers)
            except InvalidSignature:
                assert target.proof_in_body, what
            except Exception as err:  # noqa: BLE001 - collect every escape, not just the first
                failures.append(f"{what}: {type(err).__name__}: {err}"[:200])
    assert tried > 1000
    assert not failures, f"{len(failures)} of {tried} mutations escaped:\n" + "\n".join(
        sorted(set(failures))[:60]
    )


def feed_items(slug: str) -> list[dict[str, Any]]:
    """The events of the recorded change feeds (Google events.list, Graph delta / GET)."""
    items: list[dict[str, Any]] = []
    for doc in samples(slug):
        body = doc.get("response", doc) if isinstance(doc, dict) else doc
        body = body.get("body", body) if isinstance(body, dict) else body
        if isinstance(body, str):
            continue
        found = body.get("items") or body.get("value") if isinstance(body, dict) else None
        if isinstance(found, list):
            items += [i for i in found if isinstance(i, dict) and "start" in i]
        elif isinstance(body, dict) and "start" in body and "id" in body:
            items.append(body)
    return items


@pytest.mark.parametrize("slug", ["google", "outlook"])
def test_every_single_path_mutation_of_calendar_feed_events(slug: str) -> None:
    """The calendar sync reads provider events too: only InvalidPayload may escape."""
    to_calendar_event = (google_mapping if slug == "google" else outlook_mapping).to_calendar_event
    items = feed_items(slug)
    assert items, slug
    tried, failures = 0, []
    for item in items:
        for what in sweep(item):
            tried += 1
            try:
                refusal(partial(to_calendar_event, "primary", item), InvalidPayload)
            except Exception as err:  # noqa: BLE001 - collect every escape, not just the first
                failures.append(f"{what}: {type(err).__name__}: {err}"[:200])
    assert tried > 300
    assert not failures, f"{len(failures)} of {tried} mutations escaped:\n" + "\n".join(
        sorted(set(failures))[:60]
    )


@pytest.mark.parametrize("slug", ["google", "outlook"])
def test_one_unreadable_feed_event_is_skipped_not_stalling_the_sync(
    slug: str, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = google_mapping if slug == "google" else outlook_mapping
    good = feed_items(slug)[0]
    bad = {**good, "id": "broken", "start": {"dateTime": "0001-01-01T00:00:00+01:00"}}
    events = readable_events(slug, "primary", [bad, "junk", good], mapping.to_calendar_event)
    assert [e.id for e in events] == [good["id"]]
    [record] = [r for r in caplog.records if r.getMessage() == "calendar event skipped"]
    assert record.provider == slug
    assert "out of range" in record.reason
