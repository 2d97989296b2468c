"""`python -m connectors.sandbox`: serve the provider sandbox until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from connectors.sandbox.server import serve_in_thread
from connectors.sandbox.state import (
    DEFAULT_API_KEYS,
    DEFAULT_CALCOM_WEBHOOK_SECRET,
    DEFAULT_DAILY_WEBHOOK_SECRET,
    DEFAULT_GOOGLE_CLIENT_ID,
    DEFAULT_GOOGLE_CLIENT_SECRET,
    DEFAULT_OUTLOOK_CLIENT_ID,
    DEFAULT_OUTLOOK_CLIENT_SECRET,
    SandboxConfig,
)

DEFAULT_PORT = 9010


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m connectors.sandbox",
        description="Loopback emulator of Cal.com, Daily, Google Calendar and Outlook (Graph).",
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
    parser.add_argument("--outlook-client-id", default=DEFAULT_OUTLOOK_CLIENT_ID)
    parser.add_argument("--outlook-client-secret", default=DEFAULT_OUTLOOK_CLIENT_SECRET)
    parser.add_argument(
        "--https-port", type=int, default=0, help="the HTTPS listener (MSAL); 0 picks a free port"
    )
    parser.add_argument("--no-https", action="store_true", help="serve plain HTTP only")
    parser.add_argument("--no-webhooks", action="store_true", help="record but never send")
    parser.add_argument(
        "--background-webhooks", action="store_true", help="send from a thread, not in the request"
    )
    return parser


def parse(argv: list[str] | None = None) -> tuple[SandboxConfig, str, int]:
    """The sandbox configuration, host and port from the command line."""
    args = _parser().parse_args(argv)
    config = SandboxConfig(
        hub_url=args.hub_url.rstrip("/") if args.hub_url else None,
        calcom_webhook_secret=args.calcom_secret or None,
        daily_webhook_secret=args.daily_secret or None,
        api_keys={"calcom": args.calcom_key, "daily": args.daily_key},
        send_webhooks=not args.no_webhooks,
        background_webhooks=args.background_webhooks,
        google_client_id=args.google_client_id,
        google_client_secret=args.google_client_secret,
        outlook_client_id=args.outlook_client_id,
        outlook_client_secret=args.outlook_client_secret,
    )
    return config, args.host, args.port


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Serve the sandbox in the foreground; print the hub settings that point at it."""
    config, host, port = parse(argv)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)  # so the TLS temp files are removed
    running = serve_in_thread(
        config, host, port, quiet=False, https=not args.no_https, https_port=args.https_port
    )
    url = running.url
    print(f"sandbox listening on {url} (control plane: {url}/_sandbox/state)", flush=True)
    for name, value in sorted(running.hub_env().items()):
        print(f"{name}={value}", flush=True)
    if running.https_url:
        print(f"HTTPS listener on {running.https_url} (CA: {running.ca_bundle})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
