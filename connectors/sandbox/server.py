"""The sandbox Flask app (one blueprint per provider plus the control plane) and its server."""

from __future__ import annotations

import json
import threading
import time
from types import TracebackType

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

import connectors.sandbox.google as google
import connectors.sandbox.google_control as google_control
import connectors.sandbox.outlook as outlook
import connectors.sandbox.outlook_control as outlook_control
from connectors.sandbox import actions, calcom, control, daily
from connectors.sandbox.api import ApiError, ProviderApi, Sandbox, current, json_response
from connectors.sandbox.faults import FaultInjector
from connectors.sandbox.state import SandboxConfig, SandboxState
from connectors.sandbox.tls import TlsMaterial, make_tls
from connectors.sandbox.webhooks import WebhookSender

#: the emulated providers
PROVIDERS: tuple[ProviderApi, ...] = (
    daily.PROVIDER,
    calcom.PROVIDER,
    google.PROVIDER,
    outlook.PROVIDER,
)


def _gate() -> Response | None:
    """Faults and chaos first (they stand for the provider's edge), then the API key check."""
    sb = current()
    provider = sb.provider_for(request.path)
    if provider is None:
        return None
    path = provider.relative(request.path)
    fault = sb.faults.check(provider.slug, request.method, path, request.path)
    if fault is not None:
        g.sandbox_fault = True
        after = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.body is not None:
            return json_response(fault.body, fault.status, after)
        return provider.render(ApiError(fault.status, code=fault.reason, headers=after))
    outcome = sb.chaos.check(provider.slug, request.method, path)
    if outcome is not None and outcome.status is not None:
        g.sandbox_fault = True
        after = {} if outcome.retry_after is None else {"Retry-After": str(outcome.retry_after)}
        return provider.render(ApiError(outcome.status, headers=after))
    if outcome is not None and outcome.delay:
        g.sandbox_delay = outcome.delay  # answered late, after the provider acted (_log)
    key = sb.config.api_keys.get(provider.slug)
    refused = provider.authenticate(request.headers.get("Authorization"), key)
    return provider.render(refused) if refused is not None else None


def _log(response: Response) -> Response:
    """Record every provider call (not control-plane calls) with the status it got."""
    sb = current()
    provider = sb.provider_for(request.path)
    if provider is not None:
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        sb.state.log_request(
            provider=provider.slug,
            method=request.method,
            path=provider.relative(request.path),
            query=request.args.to_dict(),
            status=response.status_code,
            body=body,
            fault=bool(g.get("sandbox_fault", False)),
            batch=bool(request.environ.get(google.BATCH_ENVIRON)),
        )
    delay = g.get("sandbox_delay")
    if delay:
        time.sleep(float(delay))
    return response


def _api_error(err: ApiError) -> Response:
    provider = current().provider_for(request.path)
    return provider.render(err) if provider is not None else control.render(err)


def _http_error(err: HTTPException) -> Response:
    return _api_error(ApiError(err.code or 500, err.description))


def create_sandbox(
    config: SandboxConfig | None = None, providers: tuple[ProviderApi, ...] = PROVIDERS
) -> Flask:
    """The sandbox app: providers at their prefixes, the control plane at /_sandbox."""
    config = config or SandboxConfig()
    app = Flask(__name__)
    state = SandboxState(config)
    sandbox = Sandbox(config, state, FaultInjector(), WebhookSender(state), providers)
    app.extensions["sandbox"] = sandbox
    for provider in providers:
        app.register_blueprint(provider.blueprint, url_prefix=provider.prefix)
    app.register_blueprint(control.blueprint, url_prefix=control.PREFIX)
    app.register_blueprint(actions.blueprint, url_prefix=control.PREFIX)
    app.register_blueprint(google_control.blueprint, url_prefix=google_control.PREFIX)
    app.register_blueprint(outlook_control.blueprint, url_prefix=outlook_control.PREFIX)
    app.before_request(_gate)
    app.after_request(_log)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def sandbox_of(app: Flask) -> Sandbox:
    """The Sandbox behind an app made by create_sandbox."""
    found: Sandbox = app.extensions["sandbox"]
    return found


def _base(scheme: str, server: BaseWSGIServer) -> str:
    host = server.host if ":" not in server.host else f"[{server.host}]"
    return f"{scheme}://{host}:{server.port}"


class RunningSandbox:
    """A sandbox served on loopback from daemon threads (HTTP, optionally HTTPS too)."""

    def __init__(
        self,
        app: Flask,
        server: BaseWSGIServer,
        thread: threading.Thread,
        tls: tuple[BaseWSGIServer, threading.Thread, TlsMaterial] | None = None,
    ) -> None:
        self.app = app
        self.server = server
        self.thread = thread
        self.tls = tls
        self.sandbox = sandbox_of(app)
        self.url = _base("http", server)
        #: the same app over TLS (None without https=True); trust it with `ca_bundle`
        self.https_url = _base("https", tls[0]) if tls else None
        self.ca_bundle = str(tls[2].ca_bundle) if tls else None

    @property
    def state(self) -> SandboxState:
        """The shared in-memory state (rooms, tokens, meetings, bookings, logs, outbox)."""
        return self.sandbox.state

    @property
    def faults(self) -> FaultInjector:
        """The fault injector."""
        return self.sandbox.faults

    @property
    def webhooks(self) -> WebhookSender:
        """The webhook sender (flush() waits for background deliveries)."""
        return self.sandbox.webhooks

    @property
    def daily_api_url(self) -> str:
        """SESSIONHUB_DAILY_API_URL for the hub."""
        return f"{self.url}{daily.PROVIDER.prefix}"

    @property
    def calcom_api_url(self) -> str:
        """SESSIONHUB_CALCOM_API_URL for the hub."""
        return f"{self.url}{calcom.PROVIDER.prefix}"

    @property
    def google_url(self) -> str:
        """SESSIONHUB_GOOGLE_API_URL and SESSIONHUB_GOOGLE_OAUTH_URL for the hub."""
        return f"{self.url}{google.PROVIDER.prefix}"

    @property
    def outlook_url(self) -> str:
        """`{https_url}/outlook` (the MSAL authority is `{outlook_url}/common`)."""
        return f"{self.https_url or self.url}{outlook.PROVIDER.prefix}"

    def hub_env(self) -> dict[str, str]:
        """The SESSIONHUB_* variables that point a hub at this sandbox."""
        return hub_env(self.url, self.sandbox.config, self.https_url, self.ca_bundle)

    def stop(self) -> None:
        """Stop serving, close the sockets, the webhook thread and the TLS temp files."""
        servers = [(self.server, self.thread)]
        if self.tls is not None:
            servers.append((self.tls[0], self.tls[1]))
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
        if self.tls is not None:
            self.tls[2].cleanup()
        self.sandbox.webhooks.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def hub_env(
    url: str,
    config: SandboxConfig,
    https_url: str | None = None,
    ca_bundle: str | None = None,
) -> dict[str, str]:
    """SESSIONHUB_<SLUG>_API_URL / _API_KEY / _WEBHOOK_SECRET (Google: _OAUTH_URL, _CLIENT_*;
    Outlook: _AUTHORITY_URL, _API_URL, _CA_BUNDLE, _CLIENT_*, _TENANT on the HTTPS listener)."""
    env = {f"SESSIONHUB_{p.slug.upper()}_API_URL": f"{url}{p.prefix}" for p in PROVIDERS}
    env["SESSIONHUB_GOOGLE_OAUTH_URL"] = f"{url}{google.PROVIDER.prefix}"
    env["SESSIONHUB_GOOGLE_CLIENT_ID"] = config.google_client_id
    env["SESSIONHUB_GOOGLE_CLIENT_SECRET"] = config.google_client_secret
    ms = f"{https_url or url}{outlook.PROVIDER.prefix}"
    env["SESSIONHUB_OUTLOOK_AUTHORITY_URL"] = ms
    env["SESSIONHUB_OUTLOOK_API_URL"] = f"{ms}/v1.0"
    env["SESSIONHUB_OUTLOOK_CLIENT_ID"] = config.outlook_client_id
    env["SESSIONHUB_OUTLOOK_CLIENT_SECRET"] = config.outlook_client_secret
    env["SESSIONHUB_OUTLOOK_TENANT"] = "common"
    if ca_bundle:
        env["SESSIONHUB_OUTLOOK_CA_BUNDLE"] = ca_bundle
    env.update({f"SESSIONHUB_{k.upper()}_API_KEY": v for k, v in config.api_keys.items()})
    if config.calcom_webhook_secret:
        env["SESSIONHUB_CALCOM_WEBHOOK_SECRET"] = config.calcom_webhook_secret
    if config.daily_webhook_secret:
        env["SESSIONHUB_DAILY_WEBHOOK_SECRET"] = config.daily_webhook_secret
    return env


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the per-request access log line (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log."""


def serve_in_thread(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    quiet: bool = True,
    https: bool = True,
    https_port: int = 0,
) -> RunningSandbox:
    """Serve a new sandbox from a daemon thread (port 0 picks a free port).

    `https=True` also serves the same app over TLS (a throwaway CA made now) on `https_port`.
    """
    app = create_sandbox(config)
    handler = QuietRequestHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = _start(server, "sandbox-http")
    tls = None
    if https:
        material = make_tls()
        secure = make_server(
            host,
            https_port,
            app,
            threaded=True,
            request_handler=handler,
            ssl_context=material.server_context(),
        )
        tls = (secure, _start(secure, "sandbox-https"), material)
    return RunningSandbox(app, server, thread, tls)


def _start(server: BaseWSGIServer, name: str) -> threading.Thread:
    # a short poll interval keeps stop() (shutdown) quick
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
    thread.start()
    return thread
