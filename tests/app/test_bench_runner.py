"""The benchmark runner's bookkeeping (tests/bench/run.py): discovery, parsing, the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench import run


def report(figures: list[dict[str, object]]) -> dict[str, object]:
    return {
        "date": "2026-11-21 12:00 UTC",
        "commit": "abc1234",
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "ram": "4.0 GiB",
            "load_average": [0.5, 0.5, 0.5],
            "python": "3.11.7",
            "postgresql": "15.2",
            "redis": "7.0.15",
        },
        "figures": figures,
        "notes": ["ingest: a note"],
    }


FIGURE = {
    "topic": "ingest",
    "name": "ingest: throughput",
    "value": 120.0,
    "unit": "req/s",
    "stat": "rps",
    "baseline": 400.0,
    "ratio": 0.3,
    "target": ">= 35% of baseline",
    "met": False,
}


def test_discovery_is_by_glob_and_only_filters() -> None:
    topics = run.discover()
    assert "ingest" in topics
    assert topics == sorted(topics)
    assert run.discover(["ingest"]) == ["ingest"]
    with pytest.raises(SystemExit, match="no such benchmark: nope"):
        run.discover(["nope"])


def test_the_last_json_line_with_figures_is_taken() -> None:
    out = 'starting\n{"other": 1}\n' + json.dumps({"figures": [FIGURE], "notes": []}) + "\n"
    assert run.parse_output(out)["figures"] == [FIGURE]
    with pytest.raises(ValueError, match="no JSON object"):
        run.parse_output('{"figures": "not a list"}\nplain text\n')


def test_table_has_every_figure_with_baseline_ratio_and_verdict(tmp_path: Path) -> None:
    second = {**FIGURE, "name": "slots | p50", "value": 0.42, "unit": "ms", "stat": "p50"}
    second.update(baseline=None, ratio=None, target="< 1 ms", met=True)
    as_json, as_md = run.write(report([FIGURE, second]), tmp_path)
    assert json.loads(as_json.read_text())["figures"][1]["value"] == 0.42
    text = as_md.read_text()
    assert "Test CPU (2 cores, 4.0 GiB RAM" in text
    assert "commit abc1234" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| figure | value | baseline | ratio | target | met |"
    assert rows[1] == "| --- | --- | --- | --- | --- | --- |"
    first = "| ingest: throughput | 120 req/s (rps) | 400 req/s | 0.3 | >= 35% of baseline |"
    assert rows[2] == first + " **no** |"
    assert rows[3] == "| slots \\| p50 | 0.42 ms (p50) | — | — | < 1 ms | yes |"
    assert "- ingest: a note" in text


def test_a_failing_module_becomes_a_note(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(run, "HERE", tmp_path)
    (tmp_path / "bench_broken.py").write_text("raise SystemExit(3)\n")
    assert run.discover() == ["broken"]
    found = run.run_topic("broken", timeout=60)
    assert found["figures"] == []
    assert found["notes"][0].startswith("broken: exited 1 after")


def test_only_keeps_the_other_topics_of_the_previous_run(tmp_path: Path) -> None:
    slots = {**FIGURE, "topic": "slots", "name": "slots: p50"}
    old = {**report([FIGURE, slots]), "topics": ["ingest", "slots"]}
    old["notes"] = ["ingest: old note", "slots: kept note"]
    run.write(old, tmp_path)
    new = {**report([{**FIGURE, "value": 150.0}]), "topics": ["ingest"], "notes": ["ingest: new"]}
    new["date"] = "2026-11-22 08:00 UTC"
    run.keep_others(new, tmp_path / "latest.json")
    assert [(f["topic"], f["value"]) for f in new["figures"]] == [
        ("slots", 120.0),
        ("ingest", 150.0),
    ]
    assert new["notes"][:2] == ["slots: kept note", "ingest: new"]
    assert "slots ran 2026-11-21 12:00 UTC (commit abc1234)" in new["notes"][-1]
