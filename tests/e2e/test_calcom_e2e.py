"""Cal.com end to end: gunicorn + RQ worker processes, real Redis, both databases."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from connectors.calcom.webhook import signature
from tests.conftest import QUEUE_NAME, AppFactory
from tests.e2e.test_serve import free_port
from tests.jobs.calcom_support import booking

BIN = Path(sys.executable).parent
SECRET = "e2e-calcom-secret"
STRIPE_SECRET = "whsec_e2e_secret"


@pytest.fixture
def hub_env(make_app: AppFactory, db_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    make_app(db_url, redis_url)  # empties the tables and the Redis test database
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONHUB_")}
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "SESSIONHUB_SECRET_KEY": "e2e-secret-key",
            "SESSIONHUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SESSIONHUB_CALCOM_WEBHOOK_SECRET": SECRET,
            "SESSIONHUB_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "SESSIONHUB_VAR_DIR": str(tmp_path / "var"),
            "SESSIONHUB_QUEUE_NAME": QUEUE_NAME,  # this run's namespace on the shared Redis
        }
    )
    return env


@pytest.fixture
def web(hub_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [BIN / "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:create_app()"],
            env=hub_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            proc.terminate()
            proc.wait(timeout=10)
            pytest.fail(f"gunicorn did not become ready: {log.read_text()[-2000:]}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def post(base: str, body: dict[str, object]) -> requests.Response:
    raw = json.dumps(body).encode()
    return requests.post(
        f"{base}/webhooks/calcom",
        data=raw,
        timeout=5,
        headers={"Content-Type": "application/json", "X-Cal-Signature-256": signature(raw, SECRET)},
    )


@pytest.mark.e2e
@pytest.mark.redis
def test_reschedule_chain_through_the_running_hub(web: str, hub_env: dict[str, str]) -> None:
    chain = [booking("BOOKING_CREATED", "e2e-0", "2030-01-01T00:00:00Z")]
    for n in range(1, 4):
        chain.append(
            booking(
                "BOOKING_RESCHEDULED",
                f"e2e-{n}",
                f"2030-01-0{n + 1}T00:00:00Z",
                f"2030-03-0{n + 1}T10:00:00Z",
                f"2030-03-0{n + 1}T11:00:00Z",
                rescheduleUid=f"e2e-{n - 1}",
            )
        )
    # the payment arrives first, naming a booking uid the hub has not seen yet
    paid = {
        "id": "evt_e2e_paid",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()) - 5,
        "livemode": False,
        "data": {
            "object": {
                "id": "cs_e2e",
                "object": "checkout.session",
                "payment_intent": "pi_e2e",
                "payment_status": "paid",
                "client_reference_id": "e2e-0",
                "amount_total": 9000,
                "currency": "eur",
                "metadata": {},
            }
        },
    }
    raw = json.dumps(paid).encode()
    stamp = str(int(time.time()))
    mac = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert (
        requests.post(
            f"{web}/webhooks/stripe",
            data=raw,
            timeout=5,
            headers={"Stripe-Signature": f"t={stamp},v1={mac}"},
        ).status_code
        == 200
    )
    for body in chain:
        assert post(web, body).status_code == 200
    assert post(web, chain[0]).json()["status"] == "duplicate"

    worker = subprocess.run(
        [BIN / "sessionhub", "worker", "--burst"],
        env=hub_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    key = (
        subprocess.run(
            [BIN / "sessionhub", "api-key", "create", "e2e"],
            env=hub_env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    auth = {"Authorization": f"Bearer {key}"}
    found = {}
    for uid in ("e2e-0", "e2e-1", "e2e-2", "e2e-3"):
        resp = requests.get(
            f"{web}/api/sessions",
            params={"provider": "calcom", "external_id": uid},
            headers=auth,
            timeout=5,
        )
        items = resp.json()["items"]
        if len(items) != 1:
            everything = requests.get(f"{web}/api/sessions", headers=auth, timeout=5).json()
            states = requests.get(f"{web}/api/deliveries", headers=auth, timeout=5).json()
            pytest.fail(
                f"{uid}: {items}\nsessions={everything}\ndeliveries={states}\n"
                f"worker={worker.stderr[-8000:]}"
            )
        found[uid] = items[0]
    assert len({s["id"] for s in found.values()}) == 1
    session = found["e2e-3"]
    assert (session["status"], session["payment_status"]) == ("confirmed", "paid")
    assert session["payment"] == {"amount": 9000, "currency": "eur"}
    assert session["start_at"] == "2030-03-04T10:00:00Z"
    active = {
        (link["provider"], link["external_id"]) for link in session["links"] if link["active"]
    }
    assert active == {("calcom", "e2e-3"), ("stripe", "pi_e2e")}
    deliveries = requests.get(
        f"{web}/api/deliveries", params={"provider": "calcom"}, headers=auth, timeout=5
    ).json()["items"]
    assert sorted(d["state"] for d in deliveries) == ["processed"] * 4
    stripe_rows = requests.get(
        f"{web}/api/deliveries", params={"provider": "stripe"}, headers=auth, timeout=5
    ).json()["items"]
    assert [d["state"] for d in stripe_rows] == ["processed"]
