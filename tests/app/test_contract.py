"""The API contract: the OpenAPI document covers every /api route, and the live app keeps it.

schemathesis generates requests from `GET /api/openapi.json` and runs them against the WSGI app
(SQLite and PostgreSQL, seeded with a coach with hours, a booked session, a delivery, a webhook
endpoint with a message and a calendar connection): no 5xx, every status documented, every body
matching its schema, the documented content type, invalid input refused. Valid and invalid cases
per operation, then a stateful run following the document's links. The app is built with
`testing=True`, so every success answer is also checked against its pydantic model in-process
(`app.http.api.contract`), which extends the same check to the rest of the API tests.
"""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from app.apikeys import create_key
from app.http.api import PUBLIC_ENDPOINTS
from app.models import CalendarConnection
from tests.conftest import AppFactory, drain, hub_of
from tests.testhook import event, registered, sign

HOURS = {
    "timezone": "UTC",
    "rules": [
        {"weekday": d, "start": "00:00", "end": "24:00"}
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ],
}
#: examples per operation: enough to reach the branches of the input checks, bounded for CI
#: (the PostgreSQL pass looks for what only PostgreSQL refuses: NUL characters, 32-bit ids)
EXAMPLES = {"sqlite": 20, "postgresql": 10}
#: operations the seeded state cannot make succeed; every other one must answer 2xx at least once
NO_SUCCESS_EXPECTED = {
    "POST /api/coaches/{coach_id}/link-url",  # no Google/Outlook OAuth client configured
    "POST /api/jobs/{job_id}/retry",  # no failed job
    "POST /api/sessions/{session_id}/join",  # the seeded session starts in days: too early
    "POST /api/sessions/{session_id}/confirm",  # status changes depend on which ran first
    "POST /api/sessions/{session_id}/reject",
    "POST /api/sessions/{session_id}/outcome",
}
#: scenarios of the stateful run (each up to 8 linked calls)
STATEFUL_SCENARIOS = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Seeded:
    """The app under test, its API key, and the ids of what was seeded."""

    def __init__(self, app: Flask, key: str, ids: dict[str, str]) -> None:
        self.app, self.key, self.ids = app, key, ids

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _seed(app: Flask) -> Seeded:
    with hub_of(app).db.session() as db:
        _, key = create_key(db, "contract")
    auth = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    made = client.post(
        "/api/coaches",
        json={"email": "coach@example.com", "name": "Coach", "timezone": "UTC"},
        headers=auth,
    )
    assert made.status_code == 201, made.json
    coach = made.json["id"]
    assert (
        client.put(f"/api/coaches/{coach}/availability", json=HOURS, headers=auth).status_code
        == 200
    )
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    booked = client.post(
        "/api/sessions",
        json={
            "coach_id": coach,
            "attendee": {"email": "ann@example.com", "name": "Ann"},
            "start_at": start.isoformat(),
            "duration_minutes": 60,
            "timezone": "UTC",
            "title": "Coaching",
        },
        headers=auth,
    )
    assert booked.status_code == 201, booked.json
    endpoint = client.post(
        "/api/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/hooks", "events": ["*"]},
        headers=auth,
    )
    assert endpoint.status_code == 201, endpoint.json
    body = event()
    hooked = client.post("/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new"))
    assert hooked.status_code == 200
    drain(app)
    delivery = client.get("/api/deliveries", headers=auth).json["items"][0]["id"]
    messages = client.get(f"/api/webhook-endpoints/{endpoint.json['id']}/deliveries", headers=auth)
    with hub_of(app).db.session() as db:
        connection = CalendarConnection(
            coach_id=uuid.UUID(coach), provider="google", account_email="coach@example.com"
        )
        db.add(connection)
        db.flush()
        connection_id = str(connection.id)
    ids = {
        "coach_id": coach,
        "session_id": booked.json["id"],
        "endpoint_id": endpoint.json["id"],
        "delivery_id": str(delivery),
        "connection_id": connection_id,
        "message_id": str(messages.json["items"][0]["id"]),
    }
    return Seeded(app, key, ids)


@pytest.fixture
def seeded(make_app: AppFactory, db_url: str) -> Iterator[Seeded]:
    with registered():
        yield _seed(make_app(db_url, rate_limit_api="1000000/minute"))


def _load(app: Any) -> Any:
    """The document of the live app, for schemathesis."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # schemathesis mines literals from every module loaded so far: the data would depend on what
    # the rest of the suite imported (alone it passed, in the suite hypothesis saw a different
    # draw on replay: FlakyStrategyDefinition). Off, so a run is the same alone and in the suite.
    schema.config.analysis.constants.enabled = False
    return schema


def _realistic(case: Any, ids: dict[str, str]) -> Any:
    """Fill the fields random data hardly ever gets right, so the success paths run too."""
    query = case.query
    if isinstance(query, dict) and "from" in query and "to" in query:
        query["from"] = datetime.now(UTC).isoformat()
        query["to"] = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    if isinstance(query, dict) and "email" in query:
        query["email"] = "ann@example.com"  # the seeded attendee: the export has content
    body = case.body
    if not isinstance(body, dict):
        return case
    if set(body) == {"email"}:  # an erasure: of someone else, so the seed stays intact
        body["email"] = f"someone-{zlib.crc32(repr(body).encode())}@example.com"
    # the fuzzed start decides the day and hour: bookable (every hour of the next weeks is open)
    digest = zlib.crc32(repr(body.get("start_at")).encode())
    start = (datetime.now(UTC) + timedelta(days=2 + digest % 30, hours=digest % 24)).replace(
        minute=0, second=0, microsecond=0
    )
    if "coach_id" in body:
        body["coach_id"] = ids["coach_id"]
    if "timezone" in body:
        body["timezone"] = "Europe/Paris"
    if "start_at" in body:
        body["start_at"] = start.isoformat()
        if "end_at" not in body and "duration_minutes" not in body:
            body["duration_minutes"] = 30 + digest % 90
    if "end_at" in body:
        body["end_at"] = (start + timedelta(minutes=30 + digest % 90)).isoformat()
    if isinstance(body.get("attendee"), dict):
        body["attendee"]["email"] = f"attendee-{digest}@example.com"
    if isinstance(body.get("title"), str) and not body["title"].strip():
        body["title"] = "Coaching"
    if "events" in body:
        body["events"] = ["*"] if digest % 2 else ["session.created", "session.cancelled"]
    if "url" in body:
        body["url"] = f"http://127.0.0.1:9/hooks/{digest}"
    return case


def _cases(operation: Any, ids: dict[str, str]) -> st.SearchStrategy[Any]:
    """Valid and invalid requests; most of them name what was seeded (the interesting paths)."""
    names = {p.name for p in operation.path_parameters}
    known = {name: value for name, value in ids.items() if name in names}
    realistic = operation.as_strategy(path_parameters=known).map(lambda c: _realistic(c, ids))
    return st.one_of(
        operation.as_strategy(),
        operation.as_strategy(GenerationMode.NEGATIVE),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known),
        operation.as_strategy(path_parameters=known),
        realistic,
        realistic,
        realistic,
    )


def _fuzz(operation: Any, seeded: Seeded) -> set[int]:
    """Run one operation's cases through every check; the statuses it answered."""
    answered: set[int] = set()

    @settings(
        max_examples=EXAMPLES[hub_of(seeded.app).db.dialect],
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, seeded.ids))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=seeded.auth, checks=CHECKS)
        answered.add(response.status_code)

    run()
    return answered


def test_the_app_keeps_its_contract(seeded: Seeded) -> None:
    schema = _load(seeded.app)
    # deletions last: they would turn the seeded endpoint's resend into a 409 for everyone
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda op: (op.method == "delete", op.path, op.method),
    )
    assert len(operations) >= 30
    failures: list[str] = []
    answered: dict[str, set[int]] = {}
    for operation in operations:
        try:
            answered[operation.label] = _fuzz(operation, seeded)
        except Exception as err:  # noqa: BLE001 - every operation's failures are reported together
            failures.append(f"{operation.label}: {err}")
    assert not failures, "\n\n".join(failures)
    succeeded = {label for label, codes in answered.items() if any(200 <= c < 300 for c in codes)}
    assert set(answered) - succeeded <= NO_SUCCESS_EXPECTED, answered


# --- the document itself ------------------------------------------------------------------


def _openapi_path(rule: str) -> str:
    return rule.replace("<", "{").replace(">", "}")


def _drift(app: Flask, doc: dict[str, Any]) -> tuple[set[Any], set[Any]]:
    """(routes the document lacks, documented operations without a route)."""
    routes = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.endpoint not in PUBLIC_ENDPOINTS
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    return routes - documented, documented - routes


def test_every_api_route_is_in_the_document(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    doc = app.test_client().get("/api/openapi.json").json
    assert sum(len(ops) for ops in doc["paths"].values()) >= 30
    missing, extra = _drift(app, doc)
    assert missing == set(), "routes missing from /api/openapi.json (add @contract)"
    assert extra == set(), "documented operations without a route"


def test_a_route_without_contract_is_caught(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    app.add_url_rule("/api/people/<person_id>", "people", lambda person_id: "", methods=["DELETE"])
    doc = app.test_client().get("/api/openapi.json").json
    assert _drift(app, doc) == ({("/api/people/{person_id}", "delete")}, set())


def test_the_document_is_openapi_31_with_bearer_auth(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url)
    resp = app.test_client().get("/api/openapi.json")  # public: no key needed
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert doc["security"] == [{"apiKey": []}]
    ics = doc["paths"]["/api/sessions/{session_id}.ics"]["get"]["responses"]["200"]
    assert list(ics["content"]) == ["text/calendar"]
    booking = doc["paths"]["/api/sessions"]["post"]
    assert booking["requestBody"]["required"] is True
    assert "409" in booking["responses"]
    for component in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(component)  # OpenAPI 3.1 is JSON Schema 2020-12
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"401", "503"} <= set(op["responses"]), f"{method} {path}"
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["schema"] != {"type": "string"}, f"untyped in {path}"


def _concrete(path: str) -> str:
    for name, value in {
        "{delivery_id}": "1",
        "{message_id}": "1",
        "{job_id}": "job-1",
    }.items():
        path = path.replace(name, value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
    return path


@pytest.mark.parametrize("header", [None, "Bearer shk_unknown", "Basic dXNlcjpwYXNz"])
def test_every_operation_needs_a_key(
    make_app: AppFactory, sqlite_url: str, header: str | None
) -> None:
    app = make_app(sqlite_url)
    client = app.test_client()
    doc = client.get("/api/openapi.json").json
    headers = {"Authorization": header} if header else {}
    count = 0
    for path, ops in doc["paths"].items():
        for method in ops:
            resp = client.open(_concrete(path), method=method.upper(), json={}, headers=headers)
            assert resp.status_code == 401, f"{method.upper()} {path}: {resp.status_code}"
            assert resp.json["error"] in ("unauthorized", "invalid_api_key")
            count += 1
    assert count == sum(len(ops) for ops in doc["paths"].values()) >= 30


# --- validation errors keep the hub's shape -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "put",
            "/api/coaches/{coach}/availability",
            {"rules": [{"weekday": "mon"}]},
            "rules[0].start",
        ),
        (
            "put",
            "/api/coaches/{coach}/availability",
            {"overrides": [{"date": "2027-01-01", "start": "9"}]},
            "overrides[0].start",
        ),
        ("post", "/api/sessions", {"coach_id": "{coach}", "attendee": {}}, "attendee.email"),
        ("patch", "/api/coaches/{coach}", {"horizon_days": 0}, "horizon_days"),
        ("patch", "/api/coaches/{coach}", {"favourite_colour": "red"}, "favourite_colour"),
        ("post", "/api/webhook-endpoints", {"url": "https://x.example", "events": []}, "events"),
        ("post", "/api/sessions/{session}/outcome", {"status": "maybe"}, "status"),
        ("post", "/api/sessions/{session}/cancel", {"by": "robot"}, "by"),
        ("get", "/api/sessions?limit=500", None, "limit"),
        ("get", "/api/coaches/{coach}/slots?from=2027-01-01T00:00:00Z", None, "to"),
    ],
)
def test_invalid_input_is_400_naming_the_field(
    make_app: AppFactory,
    sqlite_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    with registered():
        seeded = _seed(make_app(sqlite_url))
    ids = {"{coach}": seeded.ids["coach_id"], "{session}": seeded.ids["session_id"]}
    for name, value in ids.items():
        path = path.replace(name, value)
        if body and body.get("coach_id") == name:
            body = {**body, "coach_id": value}
    resp = seeded.app.test_client().open(
        path, method=method.upper(), json=body, headers=seeded.auth
    )
    assert resp.status_code == 400, resp.json
    assert resp.json["error"] == "invalid"
    assert resp.json["field"] == field
    assert field.split("[")[0].split(".")[0] in resp.json["message"]


def test_a_body_that_is_not_an_object_is_refused(make_app: AppFactory, sqlite_url: str) -> None:
    with registered():
        seeded = _seed(make_app(sqlite_url))
    client = seeded.app.test_client()
    for data in ("[]", "not json", "3"):
        resp = client.post(
            "/api/webhook-endpoints",
            data=data,
            content_type="application/json",
            headers=seeded.auth,
        )
        assert (resp.status_code, resp.json["field"]) == (400, "body"), data


# --- what schemathesis found: each was a 500 -------------------------------------------------

_EVENTS_CURSOR = base64.urlsafe_b64encode(json.dumps(["x"]).encode()).decode()
_NUL_CURSOR = base64.urlsafe_b64encode(json.dumps(["a\x00b"]).encode()).decode()


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # PostgreSQL cannot store NUL characters in text
        ("patch", "/api/coaches/{coach}", {"name": "a\x00b"}, "name"),
        (
            "put",
            "/api/coaches/{coach}/availability",
            {"rules": [{"weekday": "a\x00"}]},
            "rules[0].weekday",
        ),
        ("get", "/api/sessions?external_id=a%00b", None, "external_id"),
        ("get", f"/api/coaches?cursor={_NUL_CURSOR}", None, "cursor"),
        # 32-bit id columns on PostgreSQL
        ("get", "/api/deliveries/2374365764", None, "delivery_id"),
        # a cursor of the right length holding no number
        ("get", f"/api/sessions/{{session}}/events?cursor={_EVENTS_CURSOR}", None, "cursor"),
        # date arithmetic past year 9999
        (
            "patch",
            "/api/sessions/{session}",
            {"start_at": "9999-12-31T23:00:00Z", "duration_minutes": 60},
            "start_at",
        ),
        ("get", "/api/sessions?from=0001-01-01T00:00:00%2B01:00", None, "from"),
        # urlsplit raises on an unbalanced IPv6 bracket
        ("post", "/api/webhook-endpoints", {"url": "http://[::1/x", "events": ["*"]}, "url"),
    ],
)
def test_inputs_that_were_500_are_400(
    make_app: AppFactory,
    db_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    with registered():
        seeded = _seed(make_app(db_url))
    path = path.replace("{coach}", seeded.ids["coach_id"])
    path = path.replace("{session}", seeded.ids["session_id"])
    resp = seeded.app.test_client().open(
        path, method=method.upper(), json=body, headers=seeded.auth
    )
    assert resp.status_code == 400, resp.json
    assert (resp.json["error"], resp.json["field"]) == ("invalid", field)


# --- stateful: follow the document's links (book → read, cancel, move; coach → hours, slots) ----


def test_the_links_hold_across_calls(seeded: Seeded) -> None:
    schema = _load(seeded.app)
    base = schema.as_state_machine()
    auth = seeded.auth

    class Machine(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=auth)

        def before_call(self, case: Any) -> None:
            if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
                _realistic(case, seeded.ids)

    Machine.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_a_body_past_the_limit_is_413_as_documented(make_app: AppFactory, sqlite_url: str) -> None:
    app = make_app(sqlite_url, max_body_bytes=1000)
    with hub_of(app).db.session() as db:
        _, key = create_key(db, "contract")
    client = app.test_client()
    doc = client.get("/api/openapi.json").json
    assert "413" in doc["paths"]["/api/webhook-endpoints"]["post"]["responses"]
    big = {"url": "https://platform.example.com/" + "x" * 2000, "events": ["*"]}
    resp = client.post(
        "/api/webhook-endpoints", json=big, headers={"Authorization": f"Bearer {key}"}
    )
    assert resp.status_code == 413
    assert set(resp.json) == {"error", "message"}
