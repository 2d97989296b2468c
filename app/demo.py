"""`sessionhub demo`: the hub, its worker and the provider sandbox on loopback, telling a story.

A Cal.com booking becomes a session with a Daily room; a reschedule moves the room; a call's
real attendance lands on the session and its summary; a cancel removes the room. Everything
goes through signed webhooks and jobs; the script only plays the people.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from werkzeug.serving import make_server

from app import create_app
from app.apikeys import create_key
from app.config import Settings
from app.hub import Hub
from app.migrate import upgrade
from connectors.sandbox import SandboxConfig, serve_in_thread
from connectors.sandbox.server import QuietRequestHandler

SLUGS = ("calcom", "daily")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _wait(what: str, probe: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"demo: gave up waiting for {what}")


class Demo:
    """One run of the story against fresh state."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.work = Path(tempfile.mkdtemp(prefix="sessionhub-demo-"))
        port = _port()
        self.url = f"http://127.0.0.1:{port}"
        self.sandbox = serve_in_thread(SandboxConfig(hub_url=self.url))
        env = self.sandbox.hub_env()
        db_url = f"sqlite:///{self.work / 'demo.db'}"
        upgrade(db_url)
        settings = Settings(
            database_url=db_url,
            redis_url=None,
            secret_key="demo-" + Fernet.generate_key().hex(),
            encryption_keys=(Fernet.generate_key().decode(),),
            public_url=self.url,
            api_urls={s: env[f"SESSIONHUB_{s.upper()}_API_URL"] for s in SLUGS},
            api_keys={s: env[f"SESSIONHUB_{s.upper()}_API_KEY"] for s in SLUGS},
            webhook_secrets={s: (env[f"SESSIONHUB_{s.upper()}_WEBHOOK_SECRET"],) for s in SLUGS},
            var_dir=self.work,
            testing=True,
        )
        self.app = create_app(settings, start_worker=True)
        self.hub: Hub = self.app.extensions["sessionhub"]
        with self.hub.db.session() as db:
            _, token = create_key(db, "demo")
        self.server = make_server(
            "127.0.0.1", port, self.app, threaded=True, request_handler=QuietRequestHandler
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Stop everything."""
        self.api.close()
        self.server.shutdown()
        self.server.server_close()
        self.hub.queue.close()
        self.sandbox.stop()

    def control(self, path: str, **body: Any) -> Any:
        resp = requests.post(f"{self.sandbox.url}/_sandbox{path}", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def session(self, uid: str) -> dict[str, Any] | None:
        items = self.api.get(
            f"{self.url}/api/sessions",
            params={"provider": "calcom", "external_id": uid},
            timeout=10,
        ).json()["items"]
        return items[0] if items else None

    def rooms(self) -> list[dict[str, Any]]:
        state = requests.get(f"{self.sandbox.url}/_sandbox/state", timeout=10).json()
        rooms: list[dict[str, Any]] = state["daily"]["rooms"]
        return rooms

    def show(self, title: str, session: dict[str, Any]) -> None:
        self.say(f"\n== {title}")
        self.say(
            f"  hub session {session['id']}: {session['status']}, v{session['version']}, "
            f"{session['start_at']} → {session['end_at']}"
        )
        for link in session["links"]:
            flag = "" if link["active"] else " (history)"
            self.say(f"    {link['provider']:<7} {link['external_id']} [{link['state']}]{flag}")
        rooms = self.rooms()
        self.say(
            f"  Daily holds {len(rooms)} room(s): "
            + ", ".join(
                f"{r['name']} nbf={r['config'].get('nbf')} exp={r['config'].get('exp')}"
                for r in rooms
            )
        )

    def settled(self, uid: str, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            s = self.session(uid)
            pending = s and any(link["state"] == "pending" for link in s["links"])
            return s if s and not pending and test(s) else None

        found: dict[str, Any] = _wait(f"session {uid} to settle", probe)
        return found

    def run(self) -> None:
        """The story."""
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        self.say(f"Hub {self.url} (embedded mode) ↔ sandbox {self.sandbox.url}")
        booked = self.control(
            "/calcom/bookings",
            start=_iso(start),
            end=_iso(start + timedelta(minutes=45)),
            title="Career coaching",
            location="integrations:office365_video",
            attendee={"email": "ann@example.com", "name": "Ann Client", "timeZone": "Europe/Paris"},
        )["booking"]
        s = self.settled(booked["uid"], lambda s: bool(s["meeting_url"]))
        self.show("1. Ann books in Cal.com → the hub makes a Daily room", s)

        new_start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        moved = self.control(
            f"/calcom/bookings/{booked['uid']}/reschedule",
            start=_iso(new_start),
            end=_iso(new_start + timedelta(minutes=45)),
        )
        uid = moved["booking"]["uid"]
        s = self.settled(uid, lambda s: s["start_at"] == _iso(new_start))
        self.show("2. Ann moves it → same session, new Cal.com uid, the room moves", s)

        joined = self.api.post(
            f"{self.url}/api/sessions/{s['id']}/join", json={"participant": "coach"}, timeout=10
        ).json()
        self.say(
            f"\n== 3. The coach asks to join → {joined['url']} "
            f"(token {joined['token'][:16]}…, open {joined['opens_at']} – "
            f"{joined['closes_at']})"
        )
        room = s["meeting_url"].rsplit("/", 1)[-1]
        self.control(
            f"/daily/rooms/{room}/call",
            start_ts=int(new_start.timestamp()),
            participants=[
                {
                    "user_id": "coach",
                    "user_name": "Coach",
                    "is_owner": True,
                    "join_after_s": 0,
                    "stay_s": 2700,
                },
                {"user_id": "attendee", "user_name": "Ann", "join_after_s": 90, "stay_s": 2500},
            ],
        )
        _wait(
            "the call to be recorded",
            lambda: (self.session(uid) or {}).get("attendance", {}).get("actual_end"),
        )
        summary = self.api.get(f"{self.url}/api/sessions/{s['id']}/summary", timeout=10).json()
        self.say("\n== 4. The call happens in Daily → real attendance on the session")
        self.say(
            json.dumps(
                {k: summary[k] for k in ("call_status", "scheduled", "actual", "participants")},
                indent=2,
            )
        )

        self.control(f"/calcom/bookings/{uid}/cancel", reason="Ann changed jobs")
        s = self.settled(uid, lambda s: s["status"] == "cancelled")
        self.show("5. Ann cancels in Cal.com → the session is cancelled, the room removed", s)
        timeline = self.api.get(f"{self.url}/api/sessions/{s['id']}/events", timeout=10).json()
        self.say("\n== Timeline: " + " → ".join(e["kind"] for e in timeline["items"]))
        writes = requests.get(
            f"{self.sandbox.url}/_sandbox/requests",
            params={"provider": "daily", "method": "POST,DELETE"},
            timeout=10,
        ).json()
        self.say(f"== Daily writes made by the hub: {writes['count']}")


def run_demo(say: Callable[[str], None] = print) -> None:
    """Play the story once and stop everything."""
    demo = Demo(say)
    try:
        demo.run()
    finally:
        demo.close()
