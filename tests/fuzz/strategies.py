"""Hypothesis strategies and settings shared by the fuzz tests.

Profiles (pick with HYPOTHESIS_PROFILE): `fuzz-ci` (default) is bounded and derandomized so
CI is reproducible; `fuzz-deep` runs many more random examples for a local hunt:
`HYPOTHESIS_PROFILE=fuzz-deep .venv/bin/pytest tests/fuzz -q`.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "fuzz-ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-deep",
    max_examples=5000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-ci")
if PROFILE not in ("fuzz-ci", "fuzz-deep"):
    PROFILE = "fuzz-ci"
#: the settings of one pure property (connector functions, no I/O)
FUZZ = settings(settings.get_profile(PROFILE))
#: the settings of one property that goes through HTTP and the database (slower per example)
FUZZ_HTTP = settings(
    settings.get_profile(PROFILE),
    max_examples=max(settings.get_profile(PROFILE).max_examples // 5, 20),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

#: the same on PostgreSQL, fewer again (a round trip per statement)
FUZZ_HTTP_PG = settings(FUZZ_HTTP, max_examples=max(FUZZ_HTTP.max_examples // 2, 10))

FIXTURES = Path(__file__).resolve().parent.parent / "connectors"
#: fixture files that are not webhook deliveries of their connector
NOT_DELIVERIES = {"signature-test-vectors.json", "api-v2-booking.json"}


def samples(slug: str) -> list[Any]:
    """The recorded payloads of a connector (tests/connectors/<slug>/fixtures), parsed."""
    found = []
    for path in sorted((FIXTURES / slug / "fixtures").glob("*.json")):
        if path.name in NOT_DELIVERIES:
            continue
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and {"headers", "body"} <= doc.keys() and slug != "google":
            # a captured request: its body is the delivery
            body = doc["body"]
            if not (isinstance(body, str) and body.startswith("{")):
                continue
            doc = json.loads(body)
        found.append(doc)
    assert found, f"no sample payloads for {slug}"
    return found


# --- values ------------------------------------------------------------------------------

#: integers past every column and parser; -62135596800 and 253402300799 are the first and last
#: second of a Python datetime as Unix time
HUGE_INTS = [2**31, 2**63, -(2**63) - 1, 10**30, -1, 0, 10**4000, -62135596800, 253402300799]
EDGE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "٣٣",
    "9" * 5000,
    "\u202e\ufeff",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ 🎉",
    "x" * 3000,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2030-02-30T10:00:00Z",
    "2030-03-01T10:00:00",
    "not a date",
    "Mars/Olympus_Mons",
    "../../etc/passwd",
    "Europe/",
    "a" * 300,
    "pi_",
    "evt_",
    "t=1,v1=",
    "true",
    "PENDING",
    "not-an-email",
    "00000000-0000-0000-0000-000000000000",
]
EDGE_FLOATS = [float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 0.5, -0.0, 1e-320]

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EDGE_FLOATS),
    st.text(max_size=40),
    st.sampled_from(EDGE_STRINGS),
)

#: keys the connectors read, so random objects reach past the first lookup
KEYS = [
    "triggerEvent",
    "createdAt",
    "payload",
    "uid",
    "startTime",
    "endTime",
    "organizer",
    "attendees",
    "email",
    "timeZone",
    "type",
    "id",
    "object",
    "data",
    "created",
    "room",
    "start_ts",
    "end_ts",
    "joined_at",
    "duration",
    "value",
    "subscriptionId",
    "clientState",
    "lifecycleEvent",
    "guests",
    "responses",
    "price",
    "currency",
    "metadata",
    "videoCallData",
    "hosts",
    "iCalSequence",
    "rescheduleUid",
    "rescheduleStartTime",
    "requestReschedule",
    "amount",
    "amount_refunded",
    "payment_intent",
    "client_reference_id",
    "payment_status",
    "user_id",
    "room_name",
]
keys = st.one_of(st.text(max_size=12), st.sampled_from(KEYS))

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


def deep(depth: int, leaf: Any = 1) -> Any:
    """A value nested `depth` levels deep (lists and objects alternating)."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


# --- mutations of real payloads ----------------------------------------------------------


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (keys and indexes) to a node of a JSON document, the root excluded."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def _retype(value: Any) -> Any:
    """The same information in the wrong JSON type."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return int(value) if value.isdecimal() and len(value) < 20 else [value]
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    if isinstance(value, dict):
        return list(value.values())
    return {}


MUTATIONS = ("delete", "replace", "edge", "retype", "deepen", "grow", "add")

#: one value of each kind that has broken a parser somewhere: the sweep tries all of them
SWEEP_VALUES: list[Any] = [
    None,
    True,
    "",
    "²",
    "9" * 5000,
    "a\x00b",
    "x" * 3000,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "Mars/Olympus_Mons",
    -1,
    -62135596800,
    2**63,
    10**30,
    1e308,
    float("inf"),
    float("nan"),
    [],
    {},
    ["x", 5],
]


@st.composite
def mutated(draw: st.DrawFn, doc: Any, max_steps: int = 4) -> Any:
    """A real payload with 1..max_steps random paths deleted, replaced, retyped or blown up."""
    doc = copy.deepcopy(doc)
    grown = False
    for _ in range(draw(st.integers(1, max_steps))):
        found = list(paths(doc))
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        how = draw(st.sampled_from(MUTATIONS))
        if how == "delete":
            del parent[last]
        elif how == "replace":
            parent[last] = draw(json_values)
        elif how == "edge":
            parent[last] = draw(st.sampled_from([*HUGE_INTS, *EDGE_STRINGS, *EDGE_FLOATS, None]))
        elif how == "add":  # a key the connectors read, in whatever object is nearest
            target = parent[last] if isinstance(parent[last], dict) else parent
            if isinstance(target, dict):
                value = draw(st.one_of(json_values, st.sampled_from(SWEEP_VALUES)))
                target[draw(st.sampled_from(KEYS))] = copy.deepcopy(value)  # never the shared one
        elif how == "retype":
            parent[last] = _retype(parent[last])
        elif how == "deepen":
            parent[last] = deep(draw(st.integers(1, 60)), parent[last])
        elif not grown:  # grow (once, from a small value): a list or a string made long
            grown = True
            value = parent[last]
            if len(json.dumps(value)) <= 2000:
                parent[last] = value * 200 if isinstance(value, str | list) else [value] * 200
    return doc


def sweep(doc: Any) -> Iterator[str]:
    """Every single-path mutation of a document, applied in place one at a time: each node
    deleted, retyped, and set to each of SWEEP_VALUES. Yields a description while the
    mutation is in place and restores the node afterwards. Deterministic and exhaustive."""
    for path in list(paths(doc)):
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        original = parent[last]
        where = ".".join(map(str, path))
        if isinstance(parent, dict):
            order = list(parent)
            del parent[last]
            yield f"delete {where}"
            parent[last] = original
            for key in order:  # the original key order back
                parent[key] = parent.pop(key)
        else:
            del parent[last]
            yield f"delete {where}"
            parent.insert(last, original)
        for value in [_retype(original), *SWEEP_VALUES]:
            parent[last] = value
            yield f"set {where} = {value!r:.40}"
        parent[last] = original


def dumps(doc: Any) -> bytes:
    """JSON bytes as a provider might send them (NaN/Infinity included: Python accepts them)."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def any_body() -> st.SearchStrategy[bytes]:
    """Arbitrary request bodies: bytes, JSON-ish text, deep nesting, huge numbers."""
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda t: t.encode("utf-8")),
        json_values.map(dumps),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
        st.sampled_from(
            [
                b"",
                b"{}",
                b"[]",
                b"null",
                b'{"value": []}',
                b'{"test":"test"}',
                b"1" * 5000,
                b"\xef\xbb\xbf{}",
                b"a=1&b=%ZZ",
                b"payload=%7B%7D",
                b"\xff\xfe",
            ]
        ),
    )


def header_values() -> st.SearchStrategy[str]:
    """Header values as they arrive: latin-1 text, digits of every length, near-valid forms."""
    digits = st.integers(0, 10**20).map(str)
    return st.one_of(
        st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=80),
        digits,
        st.sampled_from(EDGE_STRINGS).filter(lambda s: "\x00" not in s),
        st.builds(lambda t, s: f"t={t},v1={s}", digits, st.text("0123456789abcdef=,", max_size=70)),
        st.builds(lambda a, b: f"{a},{b}", st.text(max_size=10), st.text(max_size=10)),
    )


def headers_for(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Header dicts (lower-case names) over the connector's own names and some others."""
    return st.dictionaries(
        st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=10).map(str.lower)),
        header_values(),
        max_size=len(names) + 2,
    )
