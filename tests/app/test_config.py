"""Configuration: defaults, generated embedded secrets, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.config import ConfigError, load


def test_embedded_defaults_generate_secrets_once(tmp_path: Path) -> None:
    env = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    first = load(env)
    assert first.embedded
    assert first.database_url == f"sqlite:///{tmp_path / 'sessionhub.db'}"
    assert first.public_url == "http://127.0.0.1:8000"
    assert first.webhook_secrets == {}
    second = load(env)
    assert (second.secret_key, second.encryption_keys) == (first.secret_key, first.encryption_keys)
    assert (tmp_path / "encryption_key").stat().st_mode & 0o777 == 0o600


def test_production_requires_keys(tmp_path: Path) -> None:
    env = {"SESSIONHUB_VAR_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"}
    with pytest.raises(ConfigError, match="SESSIONHUB_SECRET_KEY is required"):
        load(env)
    with pytest.raises(ConfigError, match="SESSIONHUB_ENCRYPTION_KEYS is required"):
        load({**env, "SESSIONHUB_SECRET_KEY": "k"})
    with pytest.raises(ConfigError, match="entry 2 is not a valid Fernet key"):
        load(
            {
                **env,
                "SESSIONHUB_SECRET_KEY": "k",
                "SESSIONHUB_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},nope",
            }
        )


def test_secrets_urls_and_database(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = load(
        {
            "SESSIONHUB_VAR_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://u@db/hub",
            "SESSIONHUB_ENCRYPTION_KEYS": key,
            "SESSIONHUB_CALCOM_WEBHOOK_SECRET": "new, old",
            "SESSIONHUB_DAILY_API_URL": "http://127.0.0.1:9000/daily/",
            "SESSIONHUB_PUBLIC_URL": "https://hub.example.com/",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@db/hub"
    assert settings.webhook_secrets == {"calcom": ("new", "old")}
    assert settings.api_url("daily") == "http://127.0.0.1:9000/daily"
    assert settings.api_url("calcom") == "https://api.cal.com/v2"
    assert settings.public_url == "https://hub.example.com"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load({"SESSIONHUB_VAR_DIR": str(tmp_path), "DATABASE_URL": "mysql://x"})


def test_whole_number_settings(tmp_path: Path) -> None:
    base = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    assert load({**base, "SESSIONHUB_STUCK_AFTER_SECONDS": "5"}).stuck_after_seconds == 5
    assert load(base).stuck_after_seconds == 60
    with pytest.raises(ConfigError, match="SESSIONHUB_STUCK_AFTER_SECONDS must be a whole"):
        load({**base, "SESSIONHUB_STUCK_AFTER_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="must not be negative"):
        load({**base, "SESSIONHUB_CALCOM_SWEEP_MINUTES": "-1"})


def test_inbox_handoff_and_worker_priority(tmp_path: Path) -> None:
    base = {"SESSIONHUB_VAR_DIR": str(tmp_path)}
    assert (load(base).inbox_handoff, load(base).worker_nice) == ("batch", 10)
    direct = load({**base, "SESSIONHUB_INBOX_HANDOFF": "direct", "SESSIONHUB_WORKER_NICE": "0"})
    assert (direct.inbox_handoff, direct.worker_nice) == ("direct", 0)
    with pytest.raises(ConfigError, match="SESSIONHUB_INBOX_HANDOFF must be batch or direct"):
        load({**base, "SESSIONHUB_INBOX_HANDOFF": "later"})
    with pytest.raises(ConfigError, match="SESSIONHUB_WORKER_NICE must be a whole"):
        load({**base, "SESSIONHUB_WORKER_NICE": "low"})


def test_the_worker_lowers_its_own_priority() -> None:
    script = (
        "import os; from jobs.worker import _lower_priority; before = os.nice(0); "
        "_lower_priority(7); print(os.nice(0) - before)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "7"


def test_url_secrets_are_scrubbed_from_logs() -> None:
    import logging

    from app.logs import RedactFilter, redact

    line = (
        '"GET /connect/google/callback?state=abc.def&code=4/0AX-secret HTTP/1.1" '
        '"GET /ics/coaches/3f1c/Zt0ken_xyz.ics HTTP/1.1" /connect/google?token=link-tok '
        "/webhooks/outlook?validationToken=vt"
    )
    out = redact(line)
    for secret in ("abc.def", "4/0AX-secret", "Zt0ken_xyz", "link-tok", "=vt"):
        assert secret not in out
    assert "/ics/coaches/3f1c/***.ics" in out
    record = logging.makeLogRecord({"msg": "%(r)s", "args": ({"r": line},)})
    record.args = {"r": line}
    RedactFilter().filter(record)
    assert isinstance(record.args, dict)
    assert "Zt0ken_xyz" not in record.args["r"]
