"""The webhook sender: signs exactly like each provider, POSTs to the hub, keeps an outbox."""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import requests

from connectors.calcom.webhook import signature as calcom_signature
from connectors.sandbox.models import DailyWebhook, Delivery
from connectors.sandbox.state import SandboxState
from connectors.signing import hmac_sha256

logger = logging.getLogger(__name__)

CALCOM_WEBHOOK_VERSION = "2021-10-20"
#: Daily's circuit breaker: a webhook goes FAILED after this many failed deliveries in a row
DAILY_FAILURES_TO_TRIP = 3

Job = Callable[[], object]


def raw_json(body: Any) -> bytes:
    """Compact JSON bytes, as `JSON.stringify` writes them."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def calcom_headers(raw: bytes, secret: str | None) -> dict[str, str]:
    """Cal.com's headers: hex HMAC-SHA256 of the body, or `no-secret-provided`."""
    sig = calcom_signature(raw, secret) if secret else "no-secret-provided"
    return {
        "Content-Type": "application/json",
        "X-Cal-Signature-256": sig,
        "X-Cal-Webhook-Version": CALCOM_WEBHOOK_VERSION,
    }


def daily_headers(raw: bytes, secret: str | None, timestamp_ms: int) -> dict[str, str]:
    """Daily's headers: base64 HMAC-SHA256 keyed by the base64-decoded secret over `ts.body`."""
    headers = {"Content-Type": "application/json"}
    if secret:
        message = f"{timestamp_ms}.".encode() + raw
        mac = hmac_sha256(base64.b64decode(secret), message)
        headers["X-Webhook-Timestamp"] = str(timestamp_ms)
        headers["X-Webhook-Signature"] = base64.b64encode(mac).decode()
    return headers


class WebhookSender:
    """Delivers provider webhooks synchronously, or in order on one background thread."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        self._queue: queue.Queue[Job | None] | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _record(self, provider: str, event_type: str, url: str | None, body: Any) -> Delivery:
        with self.state.lock:
            delivery = Delivery(
                self.state.next_id(), provider, event_type, url, body, "queued", self.state.now()
            )
            self.state.outbox.append(delivery)
            return delivery

    def _hold(self, delivery: Delivery, why: str) -> None:
        with self.state.lock:
            delivery.result, delivery.error = "suppressed", why

    def _why_not(self, deliver: bool) -> str | None:
        if not deliver:
            return "deliver=false"
        if not self.config.send_webhooks:
            return "webhooks disabled"
        return None

    def calcom(
        self, bodies: Sequence[Mapping[str, Any]], *, deliver: bool = True
    ) -> list[Delivery]:
        """Send Cal.com envelopes once each (Cal.com never retries a delivery)."""
        sent = []
        for body in bodies:
            with self.state.lock:
                hub = self.state.hub_url
            url = f"{hub}/webhooks/calcom" if hub else None
            delivery = self._record("calcom", str(body.get("triggerEvent")), url, body)
            sent.append(delivery)
            why = self._why_not(deliver) or (None if url else "no hub_url")
            if why:
                self._hold(delivery, why)
                continue
            raw = raw_json(body)
            headers = calcom_headers(raw, self.config.calcom_webhook_secret)
            self._dispatch(partial(self._post, delivery, raw, headers))
        return sent

    def daily(self, events: Sequence[Mapping[str, Any]], *, deliver: bool = True) -> list[Delivery]:
        """Send Daily events to every subscribed webhook that is not FAILED."""
        sent = []
        for event in events:
            kind = str(event.get("type"))
            with self.state.lock:
                hooks = [
                    h
                    for h in self.state.daily_webhooks.values()
                    if not h.event_types or kind in h.event_types
                ]
            if not hooks:
                delivery = self._record("daily", kind, None, event)
                self._hold(delivery, self._why_not(deliver) or "no webhook subscribed")
                sent.append(delivery)
            for hook in hooks:
                delivery = self._record("daily", kind, hook.url, event)
                sent.append(delivery)
                why = self._why_not(deliver)
                if why:
                    self._hold(delivery, why)
                    continue
                self._dispatch(partial(self._send_daily, delivery, hook, event))
        return sent

    def notify(
        self,
        provider: str,
        event_type: str,
        url: str,
        headers: Mapping[str, str],
        *,
        hold: Callable[[], str | None] = lambda: None,
        deliver: bool = True,
    ) -> Delivery:
        """POST an empty body with `headers` (Google push); `hold()` names why not at send time.

        The outbox row's body holds the headers, since they are all a push carries.
        """
        delivery = self._record(provider, event_type, url, dict(headers))
        why = self._why_not(deliver)
        if why:
            self._hold(delivery, why)
        else:
            self._dispatch(partial(self._notify, delivery, dict(headers), hold))
        return delivery

    def _notify(
        self, delivery: Delivery, headers: Mapping[str, str], hold: Callable[[], str | None]
    ) -> None:
        why = hold()
        if why:
            self._hold(delivery, why)
        else:
            self._post(delivery, b"", headers)

    def probe(self, url: str, secret: str | None) -> int | None:
        """Daily's creation-time check: POST `{"test":"test"}`; the status, None if unreachable."""
        body = {"test": "test"}
        delivery = self._record("daily", "webhook-verification", url, body)
        if not self.config.send_webhooks:
            self._hold(delivery, "webhooks disabled")
            return 200
        raw = raw_json(body)
        self._post(delivery, raw, daily_headers(raw, secret, int(time.time() * 1000)))
        return delivery.status_code

    def _send_daily(self, delivery: Delivery, hook: DailyWebhook, event: Any) -> None:
        with self.state.lock:
            gone = self.state.daily_webhooks.get(hook.uuid) is not hook
            why = "webhook deleted" if gone else f"webhook {hook.state}"
            live, secret = not gone and hook.state == "ACTIVE", hook.hmac
        if not live:
            self._hold(delivery, why)
            return
        raw = raw_json(event)
        ok = self._post(delivery, raw, daily_headers(raw, secret, int(time.time() * 1000)))
        with self.state.lock:
            if ok:
                hook.failed_count = 0
                hook.last_moment_pushed = self.state.now()
                return
            hook.failed_count += 1
            if hook.failed_count >= DAILY_FAILURES_TO_TRIP and hook.state == "ACTIVE":
                hook.state, hook.updated_at = "FAILED", self.state.now()
                logger.info("sandbox: Daily webhook %s is now FAILED", hook.uuid)

    def _post(self, delivery: Delivery, raw: bytes, headers: Mapping[str, str]) -> bool:
        """POST without following redirects (Cal.com sends with `redirect: manual`)."""
        url = str(delivery.url)
        status: int | None = None
        error: str | None = None
        try:
            with requests.post(
                url,
                data=raw,
                headers=dict(headers),
                timeout=self.config.webhook_timeout,
                allow_redirects=False,
            ) as response:
                status = response.status_code
        except requests.RequestException as err:
            error = type(err).__name__
        ok = status is not None and 200 <= status < 300
        with self.state.lock:
            delivery.status_code, delivery.error = status, error
            delivery.result = "delivered" if ok else "failed"
        return ok

    def _dispatch(self, job: Job) -> None:
        if not self.config.background_webhooks:
            job()
            return
        with self._start_lock:
            if self._queue is None:
                self._queue = queue.Queue()
                self._thread = threading.Thread(
                    target=self._work, args=(self._queue,), name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
            self._queue.put(job)

    @staticmethod
    def _work(jobs: queue.Queue[Job | None]) -> None:
        while True:
            job = jobs.get()
            try:
                if job is None:
                    return
                job()
            except Exception:  # noqa: BLE001 - a broken job must not stop later deliveries
                logger.exception("sandbox: webhook job failed")
            finally:
                jobs.task_done()

    def flush(self) -> None:
        """Wait until every queued webhook has been sent (no-op when sending synchronously)."""
        if self._queue is not None:
            self._queue.join()

    def close(self) -> None:
        """Send what is queued, then stop the background thread."""
        with self._start_lock:
            if self._queue is None or self._thread is None:
                return
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._queue, self._thread = None, None
