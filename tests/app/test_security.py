"""Hardening: every route refuses strangers, rate limits, security headers, cookie flags."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule, UUIDConverter
from werkzeug.test import TestResponse

import connectors
from app.config import ConfigError, load
from app.http.connect import link_url
from app.http.security import CONTENT_SECURITY_POLICY
from app.models import Coach
from tests.conftest import QUEUE_NAME, AppFactory, hub_of
from tests.testhook import TestHook, event, registered, sign

#: The ONLY endpoints a stranger may get a 2xx from. Everything else — including any route this
#: test has never heard of — must refuse a request without credentials (fail closed).
PUBLIC = {
    "static": "stylesheet only, no data",
    "health.healthz": "liveness probe: answers {'status': 'ok'} and nothing else",
    "health.readyz": "readiness probe: dependency up/down and latency, no data",
    "webhooks.receive": "authenticated in the view by the provider's signature or channel "
    "token (tests/connectors/*/test_webhook.py); handshakes echo only what they were sent",
    "dashboard.login": "the ops sign-in form: an empty form, no data",
    "api.openapi": "the API's OpenAPI document: its shape only, no data (codegen fetches it)",
}
#: public pages a refused request may be redirected to (a sign-in page, once there is one)
SIGN_IN_PAGES = {"dashboard.login"}
#: what a stranger may get instead: refused, unknown token (404) or expired link (410)
REFUSALS = {400, 401, 403, 404, 410}
STRANGER = {"REMOTE_ADDR": "203.0.113.9"}  # not loopback: /metrics is loopback-only
OAUTH = {"client_id": "hub-client", "client_secret": "hub-oauth-client-secret"}


@pytest.fixture(autouse=True)
def hook() -> Iterator[TestHook]:
    with registered() as connector:
        yield connector


def _samples(rule: Rule) -> list[dict[str, object]]:
    """Every argument of a rule filled with a plausible value (each provider slug for slugs)."""
    values: list[dict[str, object]] = [{}]
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            options: list[object] = [1]
        elif isinstance(converter, UUIDConverter) or name.endswith("id"):
            options = [uuid.uuid4()]
        elif name in ("slug", "provider"):
            options = sorted(connectors.REGISTRY)
        elif name == "filename":
            options = ["hub.css"]
        else:
            options = ["sample-" + uuid.uuid4().hex[:8]]
        values = [{**v, name: o} for v in values for o in options]
    return values


def walk(app: Flask) -> list[str]:
    """Call every rule with every method, as a stranger; the answers that were not refusals."""
    client = app.test_client()
    problems: list[str] = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in app.url_map.iter_rules():
            for args in _samples(rule):
                url = adapter.build(rule.endpoint, args, force_external=False)
                for method in sorted(rule.methods or ()):
                    resp = client.open(url, method=method, environ_base=STRANGER)
                    resp.close()  # static files are streamed
                    where = f"{method} {url} ({rule.endpoint}) -> {resp.status_code}"
                    if resp.status_code >= 500:
                        problems.append(f"{where}: server error")
                    elif rule.endpoint in PUBLIC:
                        continue
                    elif method == "OPTIONS" and resp.status_code == 200 and not resp.data:
                        continue  # Flask's automatic OPTIONS answer: the Allow header only
                    elif 300 <= resp.status_code < 400:
                        target = urlsplit(resp.headers.get("Location", "")).path
                        try:
                            endpoint, _ = adapter.match(target, method="GET")
                        except Exception:  # noqa: BLE001 - any unroutable target is a finding
                            endpoint = "?"
                        if endpoint not in SIGN_IN_PAGES:
                            problems.append(f"{where}: redirect to {target}, not a sign-in page")
                    elif resp.status_code not in REFUSALS:
                        problems.append(f"{where}: served without credentials")
    return problems


def _walk_app(make_app: AppFactory, sqlite_url: str, **extra: object) -> Flask:
    return make_app(
        sqlite_url,
        oauth={"google": OAUTH, "outlook": OAUTH},
        rate_limit_api="100000/minute",
        rate_limit_webhooks="100000/minute",
        **extra,
    )


def test_every_route_but_the_public_ones_refuses_strangers(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = _walk_app(make_app, sqlite_url)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(PUBLIC) <= endpoints, "the allow-list names an endpoint that no longer exists"
    assert len(endpoints - set(PUBLIC)) >= 20  # the API, coach pages, feeds, metrics are walked
    assert walk(app) == []


def test_metrics_with_a_token_refuse_strangers_too(make_app: AppFactory, sqlite_url: str) -> None:
    app = _walk_app(make_app, sqlite_url, metrics_token="metrics-token-for-tests")
    resp = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 401
    assert walk(app) == []


def test_the_walk_fails_closed_on_an_unknown_route(make_app: AppFactory, sqlite_url: str) -> None:
    app = _walk_app(make_app, sqlite_url)
    app.add_url_rule("/reports/<report_id>", "reports.show", lambda report_id: {"rows": [1]})
    app.add_url_rule("/go", "go", lambda: ("", 302, {"Location": "/elsewhere"}))
    problems = walk(app)
    assert len(problems) == 4, problems  # GET and HEAD of each
    assert any("reports.show" in p and "served without credentials" in p for p in problems)
    assert any("(go)" in p and "not a sign-in page" in p for p in problems)


# --- headers and cookies ----------------------------------------------------------------------


def test_pages_and_answers_carry_the_security_headers(
    make_app: AppFactory, sqlite_url: str
) -> None:
    client = _walk_app(make_app, sqlite_url).test_client()
    for resp in (
        client.get("/connect/google?token=forged"),  # an HTML page
        client.get("/api/sessions"),  # a JSON refusal
        client.get("/static/hub.css"),
    ):
        # the consent screen is reached by a form post + redirect: form-action must allow it
        assert resp.headers["Content-Security-Policy"].endswith(
            "form-action 'self' https://accounts.google.com https://login.microsoftonline.com"
        )
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in resp.headers  # the public URL is http
        resp.close()
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    plain = make_app(sqlite_url).test_client().get("/healthz")  # no OAuth configured
    assert plain.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_hsts_when_the_public_url_is_https(make_app: AppFactory, sqlite_url: str) -> None:
    app = _walk_app(make_app, sqlite_url, public_url="https://hub.example.com")
    resp = app.test_client().get("/healthz")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_templates_have_no_inline_script_or_style() -> None:
    # a `<script type="application/json">` data block is never executed (CSP does not apply)
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")|<style|\sstyle=|\son[a-z]+=",
        re.I,
    )
    templates = sorted((Path(__file__).parents[2] / "app" / "templates").rglob("*.html"))
    assert templates
    found = [f"{t.name}: {m.group(0)!r}" for t in templates for m in inline.finditer(t.read_text())]
    assert found == []


def _session_cookie(app: Flask) -> str:
    with hub_of(app).db.session() as db:
        coach = Coach(email=f"c-{uuid.uuid4().hex[:6]}@example.com", name="Coach")
        db.add(coach)
        db.flush()
        url = link_url(hub_of(app), coach.id, "google")
    resp = app.test_client().get(urlsplit(url).path + "?" + urlsplit(url).query)
    assert resp.status_code == 200, resp.data
    [cookie] = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return cookie


def test_embedded_session_cookie_is_httponly_lax_not_secure(
    make_app: AppFactory, sqlite_url: str
) -> None:
    flags = [f.strip().lower() for f in _session_cookie(_walk_app(make_app, sqlite_url)).split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # embedded mode: the http://127.0.0.1 trial


@pytest.mark.redis
def test_session_cookie_is_secure_outside_embedded_mode(
    make_app: AppFactory, sqlite_url: str, redis_url: str
) -> None:
    app = _walk_app(make_app, sqlite_url, redis_url=redis_url)  # public URL still http
    flags = [f.strip().lower() for f in _session_cookie(app).split(";")]
    assert {"secure", "httponly", "samesite=lax"} <= set(flags)


# --- rate limits --------------------------------------------------------------------------------


def _deliver(app: Flask, n: int, uid: str = "b") -> list[int]:
    client = app.test_client()
    codes = []
    for i in range(n):
        body = event(id=f"evt-{uid}-{i}", uid=f"{uid}-{i}")
        codes.append(
            client.post(
                "/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new")
            ).status_code
        )
    return codes


def _assert_429(resp: TestResponse) -> None:
    assert resp.status_code == 429
    assert resp.json is not None
    assert resp.json["error"] == "rate_limited"
    assert "3 per 1 minute" in resp.json["message"]
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


@pytest.mark.redis
def test_webhooks_are_limited_per_provider_in_redis(
    make_app: AppFactory, sqlite_url: str, redis_url: str, redis_client: redis_lib.Redis
) -> None:
    app = make_app(sqlite_url, redis_url, rate_limit_webhooks="3/minute")
    assert _deliver(app, 3) == [200, 200, 200]
    body = event(id="evt-over")
    over = app.test_client().post(
        "/webhooks/testhook", data=body, headers=sign(body, "hook-secret-new")
    )
    _assert_429(over)
    # another provider has its own budget (calcom has no secret here: 404, not 429)
    assert app.test_client().post("/webhooks/calcom", data=b"{}").status_code == 404
    keys = [k.decode() for k in redis_client.scan_iter(match=f"{QUEUE_NAME}:ratelimit*")]
    assert keys
    assert all("testhook" in k or "calcom" in k for k in keys), keys
    # a second process of the same hub shares the counters
    other = make_app(sqlite_url, redis_url, rate_limit_webhooks="3/minute")
    assert _deliver(other, 1, uid="other") == [429]


def test_webhooks_are_limited_in_memory_when_embedded(
    make_app: AppFactory, sqlite_url: str
) -> None:
    app = make_app(sqlite_url, rate_limit_webhooks="3/minute")
    assert _deliver(app, 4) == [200, 200, 200, 429]


@pytest.mark.redis
def test_redis_down_fails_open_and_counts_in_memory(
    make_app: AppFactory, sqlite_url: str, redis_url: str
) -> None:
    make_app(sqlite_url, redis_url)  # empties the tables as usual
    down = make_app(sqlite_url, "redis://127.0.0.1:1/0", rate_limit_webhooks="3/minute")
    assert _deliver(down, 4) == [200, 200, 200, 429]  # accepted (stored), then limited


@pytest.mark.redis
def test_api_is_limited_per_key_and_failed_keys_per_address(
    make_app: AppFactory, sqlite_url: str, redis_url: str, redis_client: redis_lib.Redis
) -> None:
    from app.apikeys import create_key

    app = make_app(sqlite_url, redis_url, rate_limit_api="3/minute")
    with hub_of(app).db.session() as db:
        _, first = create_key(db, "first")
        _, second = create_key(db, "second")
    client = app.test_client()

    def get(token: str, addr: str = "198.51.100.1") -> TestResponse:
        return client.get(
            "/api/sessions",
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": addr},
        )

    assert [get(first).status_code for _ in range(3)] == [200, 200, 200]
    _assert_429(get(first))
    assert get(second).status_code == 200
    # guessing keys: each guess is a new "key", but the failures count per address
    guesses = [get(f"shk_guess{i}", addr="198.51.100.2").status_code for i in range(4)]
    assert guesses == [401, 401, 401, 429]
    assert get(second, addr="198.51.100.2").status_code == 429
    stored = " ".join(k.decode() for k in redis_client.scan_iter(match=f"{QUEUE_NAME}:ratelimit*"))
    assert first not in stored
    assert second not in stored
    assert first[4:20] not in stored


# --- configuration ------------------------------------------------------------------------------


def test_rate_limit_settings(tmp_path: Path) -> None:
    env = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    settings = load(env)
    assert (settings.rate_limit_webhooks, settings.rate_limit_api) == ("600/minute", "120/minute")
    custom = load({**env, "SESSIONHUB_RATE_LIMIT_API": "10/second;300/minute"})
    assert custom.rate_limit_api == "10/second;300/minute"
    for bad in ("lots", "0/minute"):
        with pytest.raises(ConfigError, match="SESSIONHUB_RATE_LIMIT_WEBHOOKS"):
            load({**env, "SESSIONHUB_RATE_LIMIT_WEBHOOKS": bad})


# --- audit and lint rules -------------------------------------------------------------------------


def test_audit_verdicts() -> None:
    from tools.audit import unreachable, verdict

    clean = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": []}]}
    assert verdict(clean, required=True)[0] == 0
    vuln = {"id": "PYSEC-1", "fix_versions": ["3.1.4"]}
    bad = {"dependencies": [{"name": "flask", "version": "3.1.3", "vulns": [vuln]}]}
    status, lines = verdict(bad, required=False)
    assert status == 1
    assert lines == ["VULNERABLE flask 3.1.3: PYSEC-1 (fixed in 3.1.4)"]
    nothing = {"dependencies": [{"name": "flask", "skip_reason": "Dependency not found on PyPI"}]}
    status, lines = verdict(nothing, required=False)
    assert status == 0
    assert lines[0].startswith("audit SKIPPED: no vulnerability database reachable")
    assert verdict(nothing, required=True)[0] == 2
    assert unreachable("requests.exceptions.ConnectionError: Max retries exceeded")
    assert not unreachable("ResolutionImpossible: flask==99")


def test_every_security_rule_exemption_gives_its_reason() -> None:
    root = Path(__file__).resolve().parents[2]
    noqa = re.compile(r"#\s*noqa:\s*([A-Z0-9, ]+)(.*)$")
    bare = []
    for path in sorted(root.rglob("*.py")):
        if {".venv", "build", "node_modules"} & set(path.relative_to(root).parts):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found = noqa.search(line)
            security = found and re.search(r"\bS\d{3}\b", found.group(1))
            if security and found and not re.match(r"\s*[-(]\s*\w", found.group(2)):
                bare.append(f"{path.relative_to(root)}:{number}")
    assert bare == [], "ruff S (security) exemptions need a reason: '# noqa: S105 - why'"
