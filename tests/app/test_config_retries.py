"""Job retry intervals and the re-enqueue sweeps' period, from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, load
from jobs.sweeps import schedule


def test_retry_intervals_and_sweep_period(tmp_path: Path) -> None:
    base = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    default = load(base)
    assert default.job_retry_intervals == (5, 30, 120, 600, 1800)
    assert default.requeue_sweep_seconds == 60
    assert schedule(default)["jobs.sweeps.requeue_pending_links"] == 60
    tuned = load(
        {
            **base,
            "SESSIONHUB_JOB_RETRY_INTERVALS": "1, 2,4",
            "SESSIONHUB_REQUEUE_SWEEP_SECONDS": "5",
        }
    )
    assert tuned.job_retry_intervals == (1, 2, 4)
    assert schedule(tuned)["jobs.sweeps.requeue_pending_links"] == 5
    assert schedule(tuned)["jobs.sweeps.requeue_stuck_deliveries"] == 5
    assert schedule(tuned)["jobs.reminders.send_due_reminders"] == 60  # others keep theirs


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SESSIONHUB_JOB_RETRY_INTERVALS", "5,soon", "whole seconds"),
        ("SESSIONHUB_JOB_RETRY_INTERVALS", "5,-1", "none negative"),
        ("SESSIONHUB_JOB_RETRY_INTERVALS", " , ", "none negative"),
        ("SESSIONHUB_REQUEUE_SWEEP_SECONDS", "0", "at least 1"),
        ("SESSIONHUB_REQUEUE_SWEEP_SECONDS", "often", "whole number"),
    ],
)
def test_bad_values_are_one_clear_line(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load({"SESSIONHUB_VAR_DIR": str(tmp_path), name: value})
