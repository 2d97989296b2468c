"""The `sessionhub` command, run in-process on a fresh embedded database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "SESSIONHUB_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "REDIS_URL": "",
    }


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_migrate_then_api_keys(env: dict[str, str]) -> None:
    assert "up to date" in run(env, "migrate")
    key = run(env, "api-key", "create", "platform").strip().splitlines()[-1]
    assert key.startswith("shk_")
    assert len(key) > 40
    listed = run(env, "api-key", "list")
    assert "platform" in listed
    assert "active" in listed
    assert key not in listed
    assert "revoked platform" in run(env, "api-key", "revoke", "platform")
    assert "revoked" in run(env, "api-key", "list")
    again = CliRunner().invoke(main, ["api-key", "create", "platform"], env=env)
    assert again.exit_code != 0
    assert "exists already" in again.output


def test_sweep_and_replay(env: dict[str, str]) -> None:
    run(env, "migrate")
    ran = json.loads(run(env, "sweep").strip().splitlines()[-1])
    assert ran["jobs.sweeps.requeue_stuck_deliveries"] == 0
    assert ran["jobs.sweeps.requeue_pending_links"] == 0
    assert set(ran.values()) == {0}
    missing = CliRunner().invoke(main, ["deliveries", "replay", "42"], env=env)
    assert missing.exit_code != 0
    assert "no delivery 42" in missing.output


def test_bad_configuration_is_one_clear_line(tmp_path: Path) -> None:
    env = {
        "SESSIONHUB_VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SESSIONHUB_SECRET_KEY": "",
        "SESSIONHUB_ENCRYPTION_KEYS": "",
    }
    result = CliRunner().invoke(main, ["migrate"], env=env)
    assert result.exit_code == 2
    assert "configuration error: SESSIONHUB_SECRET_KEY is required" in result.output
