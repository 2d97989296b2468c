"""`make demo` (sessionhub demo) tells its whole story against the sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.e2e
def test_demo_story_runs_end_to_end(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [bin_dir / "sessionhub", "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={"PATH": str(bin_dir), "SESSIONHUB_VAR_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "the hub makes a Daily room" in out
    assert "Daily holds 1 room(s): hub-" in out
    assert '"call_status": "completed"' in out
    assert "Daily holds 0 room(s)" in out
    assert "== Daily writes made by the hub: 3" in out
    assert "created → meeting_url_set → rescheduled" in out
