"""`make bench`: run every `tests/bench/bench_*.py` module as a subprocess, collect the figures,
write `tests/bench/results/latest.json` (with the machine, the date and the commit) and
`tests/bench/results/latest.md` (the table).

    .venv/bin/python -m tests.bench.run [--only <topic> ...]

Each module prints ONE JSON object on stdout: `{"figures": [...], "notes": [...]}`; a module
that fails or prints nothing usable is reported as such in the notes (the others still run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE / "results"
FIELDS = ("name", "value", "unit", "stat", "baseline", "ratio", "target", "met")


def discover(only: list[str] | None = None) -> list[str]:
    """The topics of `bench_<topic>.py` modules next to this file, sorted."""
    topics = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    if only:
        unknown = set(only) - set(topics)
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} (have {topics})")
        topics = [t for t in topics if t in only]
    return topics


def parse_output(stdout: str) -> dict[str, Any]:
    """The last stdout line that is a JSON object with a `figures` list."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict) and isinstance(found.get("figures"), list):
            return found
    raise ValueError("no JSON object with figures on stdout")


def run_topic(topic: str, timeout: float) -> dict[str, Any]:
    """Run one module; its figures (tagged with the topic) and notes, or a note of the failure."""
    began = time.monotonic()
    argv = [sys.executable, "-m", f"tests.bench.bench_{topic}"]
    print(f"== bench_{topic}", file=sys.stderr, flush=True)  # noqa: T201
    try:
        done = subprocess.run(
            argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"figures": [], "notes": [f"{topic}: timed out after {timeout:.0f}s"]}
    seconds = time.monotonic() - began
    try:
        found = parse_output(done.stdout)
    except ValueError as err:
        note = f"{topic}: exited {done.returncode} after {seconds:.0f}s, {err}"
        return {"figures": [], "notes": [note]}
    figures = [{"topic": topic, **{k: f.get(k) for k in FIELDS}} for f in found["figures"]]
    notes = [f"{topic}: {n}" for n in found.get("notes", [])]
    if done.returncode != 0:
        notes.append(f"{topic}: exited {done.returncode}")
    notes.append(f"{topic}: ran in {seconds:.0f}s")
    return {"figures": figures, "notes": notes}


def _command(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip() or "unknown"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    pg = _pg_version()
    redis = _command(["redis-server", "--version"])
    match = re.search(r"v=(\S+)", redis)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg,
        "redis": match.group(1) if match else redis,
    }


def _pg_version() -> str:
    try:
        import psycopg

        from tests import services

        with psycopg.connect(services.PG_DSN, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception:  # noqa: BLE001 - the machine description is best effort
        return "unknown"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:  # noqa: PLR0124 - NaN
            return "n/a"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def table(figures: list[dict[str, Any]]) -> str:
    """The Markdown table: figure, value, baseline, ratio, target, met."""
    lines = [
        "| figure | value | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        unit = f.get("unit") or ""
        stat = f.get("stat") or ""
        name = str(f.get("name", "")).replace("|", "\\|")
        value = f"{_number(f.get('value'))} {unit}".strip() + (f" ({stat})" if stat else "")
        baseline = _number(f.get("baseline"))
        if f.get("baseline") is not None:
            baseline += f" {unit}".rstrip()
        ratio = _number(f.get("ratio"))
        met = {True: "yes", False: "**no**", None: "—"}[f.get("met")]
        target = str(f.get("target") or "").replace("|", "\\|")
        lines.append(f"| {name} | {value} | {baseline} | {ratio} | {target} | {met} |")
    return "\n".join(lines) + "\n"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    head = (
        f"Measured {report['date']} on {m['cpu']} ({m['cores']} cores, {m['ram']} RAM, load "
        f"average {m['load_average']} at the start), Python {m['python']}, PostgreSQL "
        f"{m['postgresql']}, Redis {m['redis']}; commit {report['commit']}.\n\n"
    )
    notes = "".join(f"- {n}\n" for n in report["notes"])
    return head + table(report["figures"]) + ("\nNotes:\n\n" + notes if notes else "")


def write(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """latest.json and latest.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_md = out / "latest.json", out / "latest.md"
    as_json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    as_md.write_text(markdown(report))
    return as_json, as_md


def keep_others(report: dict[str, Any], previous: Path) -> None:
    """With --only: keep the other topics' figures and notes of the previous latest.json, and
    say from which run they come."""
    try:
        old = json.loads(previous.read_text())
    except (OSError, ValueError):
        return
    ran = set(report["topics"])
    kept = [f for f in old.get("figures", []) if f.get("topic") not in ran]
    kept_topics = sorted({str(f.get("topic")) for f in kept})
    if not kept:
        return
    origin = {t: {"date": old.get("date"), "commit": old.get("commit")} for t in kept_topics}
    origin.update({t: r for t, r in old.get("runs", {}).items() if t in kept_topics})
    notes = [n for n in old.get("notes", []) if n.split(":", 1)[0] in kept_topics]
    report["figures"] = kept + report["figures"]
    report["notes"] = notes + report["notes"]
    report["runs"] = {**origin, **report.get("runs", {})}
    by_run: dict[str, list[str]] = {}
    for topic, run in sorted(report["runs"].items()):
        by_run.setdefault(f"{run['date']} (commit {run['commit']})", []).append(topic)
    report["notes"].append(
        "figures from several runs on this machine: "
        + "; ".join(f"{', '.join(topics)} ran {when}" for when, topics in by_run.items())
    )
    report["topics"] = kept_topics + report["topics"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run")
    parser.add_argument("--only", action="append", help="run only this topic (repeatable)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per module")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    topics = discover(args.only)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _command(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "machine": machine(),
        "topics": topics,
        "figures": [],
        "notes": [],
    }
    report["runs"] = {t: {"date": report["date"], "commit": report["commit"]} for t in topics}
    for topic in topics:
        found = run_topic(topic, args.timeout)
        report["figures"] += found["figures"]
        report["notes"] += found["notes"]
    if args.only:
        keep_others(report, args.out / "latest.json")
    as_json, as_md = write(report, args.out)
    sys.stdout.write(as_md.read_text())
    print(f"wrote {as_json} and {as_md}", file=sys.stderr)  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
