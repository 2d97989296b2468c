"""Ingestion throughput and latency, side by side with a bare Flask route (issue 12, item 1),
and the peak RSS of a gunicorn worker and an RQ worker afterwards (item 6).

The hub runs as in production (gunicorn with deploy/gunicorn.conf.py, PostgreSQL, a private
redis-server); the baseline is `tests/bench/baseline_app.py` under the same gunicorn config,
started at the same time. `wrk` (C, on loopback) posts signed ~2.5 KB Cal.com deliveries, one
unique body per request; runs alternate baseline / hub so both see the same machine load.

Zero lost deliveries: every 2xx's delivery id has a row, and once the two `sessionhub worker`s
have drained the queue every row of the run is out of `received` after exactly one attempt.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import resource
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.calcom.webhook import signature
from tests.bench.common import (
    BIN,
    CALCOM_SECRET,
    ROOT,
    Figures,
    Stack,
    hot_spots,
    log,
    median,
    production,
    rss_peak_mib,
    wait_for,
)
from tests.e2e.test_serve import free_port

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIXTURE = ROOT / "tests/connectors/calcom/fixtures/BOOKING_CREATED.json"
LUA = HERE / "ingest.lua"
THREADS, CONNECTIONS = 2, 16


def production_web_env() -> dict[str, str]:
    """The web settings of the production manifests (deploy/k8s/configmap.yaml)."""
    text = (ROOT / "deploy/k8s/configmap.yaml").read_text()
    found = {}
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
        match = re.search(rf'^\s*{name}:\s*"?(\d+)"?', text, re.M)
        if match:
            found[name] = match.group(1)
    return found


def deliveries(path: Path, count: int, tag: str) -> None:
    """Write `count` signed, unique BOOKING_CREATED deliveries ("<signature> <body>" lines)."""
    template = json.loads(FIXTURE.read_text())
    template["payload"]["location"] = "In person: 1 Main Street"
    start = datetime(2031, 1, 6, 9, tzinfo=UTC)
    with path.open("w") as out:
        for i in range(count):
            body = copy.deepcopy(template)
            at = start + timedelta(minutes=30 * (i % 5000))
            body["createdAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            body["payload"].update(
                {
                    "uid": f"bench-{tag}-{i}",
                    "startTime": at.isoformat().replace("+00:00", "Z"),
                    "endTime": (at + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                }
            )
            raw = json.dumps(body, separators=(",", ":")).encode()
            out.write(f"{signature(raw, CALCOM_SECRET)} {raw.decode()}\n")


def wrk(
    url: str,
    requests_file: Path,
    seconds: float,
    *,
    ids: Path | None = None,
    connections: int = CONNECTIONS,
    delay_ms: float | None = None,
) -> dict[str, Any]:
    """One wrk run: its WRKJSON summary plus rps and the generator's CPU use (cores)."""
    argv = ["wrk", "-t", str(THREADS), "-c", str(connections), "-d", f"{round(seconds)}s"]
    argv += ["--timeout", "10s", "-s", str(LUA), f"{url}/webhooks/calcom", "--"]
    argv += [str(requests_file), str(THREADS)]
    if ids is not None:
        argv.append(str(ids))
    env = dict(os.environ)
    if delay_ms is not None:
        env["WRK_DELAY_MS"] = f"{delay_ms:.3f}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 60)
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"^WRKJSON (.*)$", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    summary: dict[str, Any] = json.loads(found.group(1))
    summary["rps"] = summary["ok"] / (summary["duration_us"] / 1e6)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary["generator_cores"] = cpu / wall
    return summary


def start_baseline(stack: Stack) -> str:
    port = free_port()
    env = {
        **stack.env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(stack.tmp / "prometheus-baseline"),
    }
    gunicorn = [str(BIN / "gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py")]
    stack.procs.start("baseline", [*gunicorn, "tests.bench.baseline_app:app"], env)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return stack.http.get(f"{url}/", timeout=2).status_code == 404
        except Exception:  # noqa: BLE001 - not listening yet
            return False

    wait_for("the baseline gunicorn", up, 60)
    return url


def rows_state(stack: Stack) -> dict[str, int]:
    with stack.pg() as conn:
        got = conn.execute(
            "SELECT state, attempts, count(*) FROM webhook_deliveries GROUP BY state, attempts"
        ).fetchall()
    return {f"{state}/{attempts}": n for state, attempts, n in got}


def acked_ids(prefix: Path) -> list[str]:
    found: list[str] = []
    for part in prefix.parent.glob(prefix.name + ".*"):
        found += part.read_text().split()
    return found


def profile_hot_path(stack: Stack, requests_file: Path, count: int) -> list[str]:
    """Profile the hub's webhook handler in-process (pyinstrument); returns the hot spots."""
    from pyinstrument import Profiler

    saved = dict(os.environ)
    os.environ.update(stack.env)
    try:
        from app import create_app

        app = create_app()
        client = app.test_client()
        lines = requests_file.read_text().splitlines()[:count]
        posts = []
        for line in lines:
            sig, body = line.split(" ", 1)
            posts.append((sig, body.encode()))
        headers = {"Content-Type": "application/json", "X-Cal-Webhook-Version": "2021-10-20"}
        for sig, raw in posts[:20]:  # warm-up: connections, imports
            client.post(
                "/webhooks/calcom", data=raw, headers={**headers, "X-Cal-Signature-256": sig}
            )
        profiler = Profiler(interval=0.0002)
        profiler.start()
        began = time.process_time()
        for sig, raw in posts[20:]:
            resp = client.post(
                "/webhooks/calcom", data=raw, headers={**headers, "X-Cal-Signature-256": sig}
            )
            assert resp.status_code < 300, resp.text
        cpu_ms = (time.process_time() - began) * 1000 / max(1, len(posts) - 20)
        profiler.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile_ingest.txt").write_text(profiler.output_text(unicode=False, color=False))
    hot = hot_spots(profiler)
    return [f"in-process CPU per delivery {cpu_ms:.2f} ms (Flask test client, no gunicorn)", *hot]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--web",
        choices=("k8s", "default"),
        default="k8s",
        help="gunicorn processes/threads: deploy/k8s/configmap.yaml's, or gunicorn.conf.py's",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    out = Figures()
    web_env = production_web_env() if args.web == "k8s" else {}
    out.note(
        "gunicorn: deploy/gunicorn.conf.py with "
        + (", ".join(f"{k}={v}" for k, v in web_env.items()) or "its defaults")
        + " (deploy/k8s/configmap.yaml)" * bool(web_env)
        + ", for the hub and the baseline alike"
    )
    with production(workers=0, extra_env=web_env) as stack:
        base_url = start_baseline(stack)
        work = stack.tmp / "load"
        work.mkdir()
        per_run = 12000
        log("building signed deliveries")
        files = {}
        paced = [f"half{i}" for i in range(args.runs)] + [f"busy{i}" for i in range(args.runs)]
        for name in ["warm", "prof", *[f"sat{i}" for i in range(args.runs)], *paced]:
            files[name] = work / f"{name}.txt"
            # every run its own deliveries: a repeated one takes the duplicate path
            deliveries(
                files[name],
                per_run if name.startswith("sat") else 3000,
                f"{name}-{uuid.uuid4().hex[:6]}",
            )

        log("warm-up")
        wrk(base_url, files["warm"], 2)
        wrk(stack.url, files["warm"], 2, ids=work / "ids-warm")

        sat_hub: list[dict[str, Any]] = []
        sat_base: list[dict[str, Any]] = []
        for i in range(args.runs):
            sat_base.append(wrk(base_url, files[f"sat{i}"], args.seconds))
            sat_hub.append(wrk(stack.url, files[f"sat{i}"], args.seconds, ids=work / f"ids-sat{i}"))
            log(
                f"run {i}: baseline {sat_base[-1]['rps']:.0f} rps, hub {sat_hub[-1]['rps']:.0f} rps"
            )
        hub_rps, base_rps = (
            median([r["rps"] for r in sat_hub]),
            median([r["rps"] for r in sat_base]),
        )
        ratio = hub_rps / base_rps
        out.add(
            "ingest: saturation throughput (hub vs bare Flask)",
            hub_rps,
            "req/s",
            "rps",
            ">= 35% of baseline",
            baseline=base_rps,
            met=ratio >= 0.35,
        )
        out.add(
            "ingest: p99 at saturation",
            median([r["p99_us"] / 1000 for r in sat_hub]),
            "ms",
            "p99",
            "(informative)",
            baseline=median([r["p99_us"] / 1000 for r in sat_base]),
        )
        gen = max(r["generator_cores"] for r in sat_base + sat_hub)
        out.note(
            f"wrk -t{THREADS} -c{CONNECTIONS}, {args.runs} alternating runs of {args.seconds:g}s; "
            f"rps per run: baseline {[round(r['rps']) for r in sat_base]}, "
            f"hub {[round(r['rps']) for r in sat_hub]}; the generator used at most {gen:.2f} "
            "CPU cores (of 2) — the rest is the server's"
        )
        bad = sum(r["bad"] + r["errors_timeout"] for r in sat_hub)
        if bad:
            out.note(f"{bad} hub requests at saturation were not 2xx or timed out")

        # --- half the saturation rate: the ingest path alone (as above), then with the two
        # workers running beside it on the same cores, draining what the runs left -------------
        rate = hub_rps / 2
        conns = 8
        delay_ms = conns * 1000 / rate
        half_hub, half_base, busy_hub = [], [], []

        def paced(url: str, name: str, ids: Path | None = None) -> dict[str, Any]:
            file = files[name]
            return wrk(url, file, args.seconds, ids=ids, connections=conns, delay_ms=delay_ms)

        for i in range(args.runs):
            half_base.append(paced(base_url, f"half{i}"))
            half_hub.append(paced(stack.url, f"half{i}", work / f"ids-half{i}"))
        stack.start_workers(2)
        for i in range(args.runs):
            busy_hub.append(paced(stack.url, f"busy{i}", work / f"ids-busy{i}"))
        p99 = median([r["p99_us"] / 1000 for r in half_hub])
        base_p99 = median([r["p99_us"] / 1000 for r in half_base])
        out.add(
            "ingest: p99 latency at half saturation (the ingest path, as at saturation)",
            p99,
            "ms",
            "p99",
            "< 25 ms",
            baseline=base_p99,
            met=p99 < 25,
        )
        out.add(
            "ingest: p50 latency at half saturation",
            median([r["p50_us"] / 1000 for r in half_hub]),
            "ms",
            "p50",
            "(informative)",
            baseline=median([r["p50_us"] / 1000 for r in half_base]),
        )
        out.add(
            "ingest: p99 at half saturation, 2 workers draining on the same 2 cores",
            median([r["p99_us"] / 1000 for r in busy_hub]),
            "ms",
            "p99",
            "(informative: co-located worst case)",
            baseline=base_p99,
        )
        out.note(
            f"half-saturation runs: {conns} paced connections, {delay_ms:.1f} ms between requests "
            f"each (~{rate:.0f} req/s offered), fresh deliveries every run; achieved hub rps "
            f"{[round(r['rps']) for r in half_hub]}, with the workers running "
            f"{[round(r['rps']) for r in busy_hub]} (p99 "
            f"{[round(r['p99_us'] / 1000, 1) for r in busy_hub]} ms: the workers and their "
            "PostgreSQL backends take the cores the web workers need; in production they run "
            "on nodes of their own)"
        )

        # --- memory: the production processes after the load ----------------------------------
        web = max(rss_peak_mib(p) for p in stack.web_pids())
        workers = max(rss_peak_mib(p) for p in stack.worker_pids())
        out.add(
            "memory: peak RSS of a gunicorn worker", web, "MiB", "MiB", "< 150 MiB", met=web < 150
        )
        out.add(
            "memory: peak RSS of an RQ worker (sessionhub worker)",
            workers,
            "MiB",
            "MiB",
            "< 150 MiB",
            met=workers < 150,
        )

        # --- zero lost deliveries ---------------------------------------------------------------
        acked = set()
        for part in work.glob("ids-*"):
            acked |= set(part.read_text().split())
        acked_total = sum(r["ok"] for r in sat_hub + half_hub + busy_hub)
        # two more workers join to drain the backlog sooner
        for n in (3, 4):
            stack.procs.start(f"drain{n}", [str(BIN / "sessionhub"), "worker"], stack.env)
        log(f"{len(acked)} distinct deliveries acknowledged; waiting for the workers to drain")
        began = time.monotonic()
        left = -1
        while time.monotonic() - began < 900:
            with stack.pg() as conn:
                row = conn.execute(
                    "SELECT count(*) FROM webhook_deliveries WHERE state = 'received'"
                ).fetchone()
            left = int(row[0]) if row else 0
            if left == 0:
                break
            log(f"{left} deliveries still received")
            time.sleep(5)
        drain_s = time.monotonic() - began
        with stack.pg() as conn:
            ids = {str(i) for (i,) in conn.execute("SELECT id FROM webhook_deliveries")}
            (sessions,) = conn.execute("SELECT count(*) FROM sessions").fetchone() or (0,)
        missing = {a for a in acked if a not in ids}
        states = rows_state(stack)
        processed = sum(n for k, n in states.items() if k.startswith("processed/"))
        # every delivery is a new booking: one session each, exactly
        lost = len(missing) + (len(ids) - processed) + abs(processed - int(sessions))
        out.add(
            "ingest: lost deliveries (2xx without row, row not processed, sessions != rows)",
            lost,
            "deliveries",
            "count",
            "0",
            met=lost == 0,
        )
        out.note(
            f"{acked_total} 2xx answers ({len(acked)} distinct delivery ids incl. warm-up), "
            f"{len(ids)} rows, {len(missing)} acknowledged ids without a row; after the drain "
            f"rows by state/attempts: {states}; {sessions} sessions made from them; "
            f"the drain took {drain_s:.0f}s (attempts > 1 are retries after a "
            "transient error, not double effects)"
        )

        # --- profile of the hot path ----------------------------------------------------------
        try:
            hot = profile_hot_path(stack, files["prof"], 400)
            out.note("ingest profile (pyinstrument, self time): " + "; ".join(hot))
        except Exception as err:  # noqa: BLE001 - the figures stand without the profile
            out.note(f"profile failed: {err!r}")
    out.emit()


if __name__ == "__main__":
    main()
