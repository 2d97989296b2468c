"""googleapiclient against the sandbox: plain calls, BatchHttpRequest, automatic refresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httplib2
import pytest
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient import discovery_cache
from googleapiclient.discovery import build, build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from tests.connectors.sandbox.conftest import GOOGLE_SCOPES, Api

SLOT = {"start": {"dateTime": "2030-03-01T09:00:00Z"}, "end": {"dateTime": "2030-03-01T10:00:00Z"}}


def discovery(api_url: str) -> dict[str, Any]:
    """The packaged Calendar v3 document with rootUrl moved: plain calls AND batches follow."""
    doc: dict[str, Any] = json.loads(discovery_cache.get_static_doc("calendar", "v3"))
    doc["rootUrl"] = f"{api_url}/"
    doc["baseUrl"] = f"{api_url}/{doc['servicePath']}"
    return doc


@pytest.fixture
def creds(api: Api) -> Credentials:
    tokens = api.google_connect()
    config = api.sandbox.sandbox.config
    return Credentials(
        tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=f"{api.sandbox.google_url}/token",
        client_id=config.google_client_id,
        client_secret=config.google_client_secret,
        scopes=list(GOOGLE_SCOPES),
    )


@pytest.fixture
def service(api: Api, creds: Credentials) -> Iterator[Any]:
    http = AuthorizedHttp(creds, http=httplib2.Http(timeout=5))
    built = build_from_document(discovery(api.sandbox.google_url), http=http)
    yield built
    built.close()


def test_plain_calls_through_googleapiclient(api: Api, service: Any) -> None:
    listed = service.calendarList().list().execute()
    assert listed["items"][0]["id"] == "coach@example.com"
    made = service.events().insert(calendarId="primary", body={"id": "gapi00001", **SLOT}).execute()
    assert made["id"] == "gapi00001"
    page = service.events().list(calendarId="primary", singleEvents=True).execute()
    assert [e["id"] for e in page["items"]] == ["gapi00001"]
    with pytest.raises(HttpError) as caught:
        service.events().insert(calendarId="primary", body={"id": "gapi00001", **SLOT}).execute()
    assert caught.value.status_code == 409
    assert caught.value.reason == "The requested identifier already exists."
    assert api.sandbox.state.count("google", "GET", "/calendar/v3/") == 2


def test_batch_round_trip_with_the_real_batch_http_request(api: Api, service: Any) -> None:
    answers: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        answers[request_id] = exception if exception is not None else response

    batch = service.new_batch_http_request(callback=collect)
    assert batch._batch_uri == f"{api.sandbox.google_url}/batch/calendar/v3"
    events = service.events()
    batch.add(
        events.insert(calendarId="primary", body={"id": "batch00001", "summary": "Ünïcode", **SLOT})
    )
    batch.add(
        events.insert(calendarId="primary", body={"id": "batch00002", **SLOT}), request_id="two"
    )
    batch.add(events.get(calendarId="primary", eventId="nosuchevent"), request_id="three")
    batch.add(events.delete(calendarId="primary", eventId="batch00002"), request_id="four")
    batch.execute()
    assert answers["1"]["id"] == "batch00001"
    assert answers["1"]["summary"] == "Ünïcode"
    assert answers["two"]["id"] == "batch00002"
    assert isinstance(answers["three"], HttpError)
    assert answers["three"].status_code == 404
    assert answers["four"] == ""  # googleapiclient's JsonModel turns a 204 into ""
    deleted = service.events().get(calendarId="primary", eventId="batch00002").execute()
    assert deleted["status"] == "cancelled"

    log = api.control("GET", "/requests", params={"provider": "google"}).json()["requests"]
    batch_calls = [(r["method"], r["path"], r["status"]) for r in log if r["batch"]]
    assert batch_calls == [
        ("POST", "/calendar/v3/calendars/primary/events", 200),
        ("POST", "/calendar/v3/calendars/primary/events", 200),
        ("GET", "/calendar/v3/calendars/primary/events/nosuchevent", 404),
        ("DELETE", "/calendar/v3/calendars/primary/events/batch00002", 204),
    ]
    envelopes = [r for r in log if r["path"] == "/batch/calendar/v3"]
    assert [(e["method"], e["status"], e["batch"]) for e in envelopes] == [("POST", 200, False)]
    assert api.sandbox.state.count("google", "POST", "/batch") == 1


def test_batch_with_build_and_an_explicit_batch_uri(api: Api, creds: Credentials) -> None:
    """build(...) + client_options moves plain calls only; the batch URI must be given."""
    http = AuthorizedHttp(creds, http=httplib2.Http(timeout=5))
    service = build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": f"{api.sandbox.google_url}/calendar/v3/"},
    )
    try:
        assert service.calendars().get(calendarId="primary").execute()["id"] == "coach@example.com"
        assert service.new_batch_http_request()._batch_uri.startswith("https://www.googleapis.com/")
        ids: list[str] = []
        batch = BatchHttpRequest(
            callback=lambda _, resp, exc: ids.append(resp["id"]),
            batch_uri=f"{api.sandbox.google_url}/batch/calendar/v3",
        )
        batch.add(service.events().insert(calendarId="primary", body=SLOT))
        batch.add(service.calendars().get(calendarId="primary"))
        batch.execute()
        assert ids[1] == "coach@example.com"
        assert len(ids[0]) == 26
    finally:
        service.close()


def test_expired_tokens_are_refreshed_by_the_client_once(api: Api, service: Any) -> None:
    api.control("POST", "/google/accounts/coach@example.com/expire-tokens")
    assert service.calendars().get(calendarId="primary").execute()["id"] == "coach@example.com"
    assert api.sandbox.state.google.oauth.refresh_count("coach@example.com") == 1
    statuses = [r.status for r in api.sandbox.state.requests_matching("google", path="/calendar")]
    assert statuses == [401, 200]

    api.control("POST", "/google/accounts/coach@example.com/expire-tokens")
    seen: list[Any] = []
    batch = service.new_batch_http_request(callback=lambda _, resp, exc: seen.append(exc or resp))
    batch.add(service.calendars().get(calendarId="primary"))
    batch.execute()
    assert seen[0]["id"] == "coach@example.com"
    assert api.sandbox.state.google.oauth.refresh_count("coach@example.com") == 2
    parts = [r.status for r in api.sandbox.state.requests_matching("google") if r.batch]
    assert parts == [401, 200]  # googleapiclient refreshed and sent the part again


def test_faults_hit_calls_inside_a_batch(api: Api, service: Any) -> None:
    rule = {
        "provider": "google",
        "status": 403,
        "count": 1,
        "path": "/calendar/v3/calendars/primary/events",
        "reason": "rateLimitExceeded",
    }
    api.control("POST", "/faults", json=rule)
    seen: list[Any] = []
    batch = service.new_batch_http_request(callback=lambda _, resp, exc: seen.append(exc or resp))
    batch.add(service.events().insert(calendarId="primary", body=SLOT))
    batch.add(service.events().insert(calendarId="primary", body=SLOT))
    batch.execute()
    limited, ok = seen
    assert isinstance(limited, HttpError)
    assert limited.status_code == 403
    assert limited.error_details == [
        {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}
    ]
    assert ok["status"] == "confirmed"
    log = [r for r in api.sandbox.state.requests_matching("google", "POST") if r.path != "/token"]
    log = [r for r in log if not r.path.startswith("/o/oauth2/")]
    assert [(r.status, r.fault, r.batch) for r in log] == [
        (403, True, True),
        (200, False, True),
        (200, False, False),
    ]


def test_bad_batches_are_refused(api: Api, creds: Credentials) -> None:
    plain = api.google("POST", "/batch/calendar/v3", None, json={})
    assert plain.status_code == 400
    empty = api.google(
        "POST",
        "/batch/calendar/v3",
        None,
        data=b"--b--\r\n",
        headers={"Content-Type": "multipart/mixed; boundary=b"},
    )
    assert empty.status_code == 400
