"""`python -m connectors.sandbox`: serve the provider sandbox until interrupted."""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import make_server

from connectors.sandbox.server import create_sandbox, hub_env
from connectors.sandbox.state import (
    DEFAULT_API_KEYS,
    DEFAULT_CALCOM_WEBHOOK_SECRET,
    DEFAULT_DAILY_WEBHOOK_SECRET,
    DEFAULT_GOOGLE_CLIENT_ID,
    DEFAULT_GOOGLE_CLIENT_SECRET,
    SandboxConfig,
)

DEFAULT_PORT = 9010


def parse(argv: list[str] | None = None) -> tuple[SandboxConfig, str, int]:
    """The sandbox configuration, host and port from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m connectors.sandbox",
        description="Loopback emulator of Cal.com, Daily and Google Calendar.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--hub-url", help="where webhooks go, e.g. http://127.0.0.1:8000")
    parser.add_argument("--calcom-secret", default=DEFAULT_CALCOM_WEBHOOK_SECRET)
    parser.add_argument("--daily-secret", default=DEFAULT_DAILY_WEBHOOK_SECRET, help="base64")
    parser.add_argument("--daily-key", default=DEFAULT_API_KEYS["daily"])
    parser.add_argument("--calcom-key", default=DEFAULT_API_KEYS["calcom"])
    parser.add_argument("--google-client-id", default=DEFAULT_GOOGLE_CLIENT_ID)
    parser.add_argument("--google-client-secret", default=DEFAULT_GOOGLE_CLIENT_SECRET)
    parser.add_argument("--no-webhooks", action="store_true", help="record but never send")
    parser.add_argument(
        "--background-webhooks", action="store_true", help="send from a thread, not in the request"
    )
    args = parser.parse_args(argv)
    config = SandboxConfig(
        hub_url=args.hub_url.rstrip("/") if args.hub_url else None,
        calcom_webhook_secret=args.calcom_secret or None,
        daily_webhook_secret=args.daily_secret or None,
        api_keys={"calcom": args.calcom_key, "daily": args.daily_key},
        send_webhooks=not args.no_webhooks,
        background_webhooks=args.background_webhooks,
        google_client_id=args.google_client_id,
        google_client_secret=args.google_client_secret,
    )
    return config, args.host, args.port


def main(argv: list[str] | None = None) -> None:
    """Serve the sandbox in the foreground; print the hub settings that point at it."""
    config, host, port = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_sandbox(config)
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.port}"
    print(f"sandbox listening on {url} (control plane: {url}/_sandbox/state)", flush=True)
    for name, value in sorted(hub_env(url, config).items()):
        print(f"{name}={value}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["sandbox"].webhooks.close()


if __name__ == "__main__":
    main()
