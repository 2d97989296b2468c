"""The log scan (tests/logscan.py) catches planted leaks, and fails a session that has one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from cryptography.fernet import Fernet

from app.config import Settings
from tests.logscan import LogScan, _Collect

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "planted-secret-key-9f8e7d"


def _private_logger(scan: LogScan) -> logging.Logger:
    """A logger that feeds only this scan (the session's own scan never sees the plants)."""
    logger = logging.getLogger(f"logscan-selftest-{id(scan)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers = [_Collect(scan)]
    return logger


def test_planted_leaks_are_found_and_named_without_the_secret(tmp_path: Path) -> None:
    scan = LogScan()
    key = Fernet.generate_key().decode()
    scan.add_settings(
        Settings(
            database_url="postgresql+psycopg://hub:db-password-123@127.0.0.1/hub",
            redis_url=None,
            secret_key=PLANTED,
            encryption_keys=(key,),
            webhook_secrets={"stripe": ("whsec_planted_1234",)},
            oauth={"google": {"client_id": "c", "client_secret": "oauth-planted-secret"}},
            metrics_token="x",  # too short to look for
        )
    )
    api_key = "shk_" + "A" * 43  # the shape of an API key, never registered
    log = _private_logger(scan)
    log.info("harmless line with x in it")
    log.info("signing with %s", PLANTED)
    log.warning("decrypt failed", extra={"key": key})  # context fields are scanned too
    log.error("calling out with Bearer %s", api_key)
    # request lines are scrubbed like the hub's handler does: no leak
    log.info('"%s" %s', "GET /connect/google?token=whsec_planted_1234 HTTP/1.1", 200)
    try:
        raise ValueError("oauth-planted-secret rejected")
    except ValueError:
        log.exception("token exchange failed")  # tracebacks are scanned
    found = {(f.kind, f.where.split(" of ")[0]) for f in scan.scan()}
    assert found == {
        ("SESSIONHUB_SECRET_KEY", "log record"),
        ("SESSIONHUB_ENCRYPTION_KEYS entry", "log record"),
        ("API key (shk_…)", "log record"),
        ("google OAuth client secret", "log record"),
    }
    assert all(PLANTED not in f.kind + f.where for f in scan.scan())


def test_subprocess_log_files_and_environments_are_scanned(tmp_path: Path) -> None:
    scan = LogScan()
    scan.add_env(
        {"SESSIONHUB_METRICS_TOKEN": "metrics-planted-1", "SESSIONHUB_LOG_FORMAT": "json-text"},
        "environment of gunicorn",
    )
    log_file = tmp_path / "web.log"
    log_file.write_text("boot\nlog_format=json-text\nscrape with metrics-planted-1\n")
    try:
        [finding] = scan.scan([log_file])
    finally:
        log_file.unlink()  # the session's own scan reads every *.log under the temp dir
    assert (
        finding.kind
        == "SESSIONHUB_METRICS_TOKEN (handed to a subprocess, first environment of gunicorn)"
    )
    assert finding.where == f"{log_file}:3"


def test_the_sandbox_settings_printout_is_a_hand_off_not_a_leak(tmp_path: Path) -> None:
    scan = LogScan()
    scan.add_env({"SESSIONHUB_CALCOM_WEBHOOK_SECRET": "sandbox-hook-secret"}, "sandbox")
    banner = "SESSIONHUB_CALCOM_WEBHOOK_SECRET=sandbox-hook-secret\n"
    later = "GET /calcom/v2/bookings secret=sandbox-hook-secret\n"
    sandbox, web = tmp_path / "sandbox.log", tmp_path / "web.log"
    sandbox.write_text(banner + later)
    web.write_text(banner)
    try:
        found = sorted(f.where for f in scan.scan([sandbox, web]))
    finally:
        sandbox.unlink()
        web.unlink()
    assert found == [f"{sandbox}:2", f"{web}:1"]  # only the sandbox's own banner is allowed


def test_a_leak_fails_the_whole_session(tmp_path: Path) -> None:
    (tmp_path / "test_child.py").write_text(
        textwrap.dedent(
            f"""
            import logging
            from app.config import Settings

            def test_configures_and_leaks():
                settings = Settings(
                    database_url="sqlite://", redis_url=None,
                    secret_key={PLANTED!r}, encryption_keys=(),
                )
                logging.getLogger("app.child").warning("key is %s", settings.secret_key)
            """
        )
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.logscan", "-q", "-p", "no:cacheprovider"]
        + [f"--basetemp={tmp_path / 'base'}", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = child.stdout + child.stderr
    assert "1 passed" in out  # the test itself passed …
    assert child.returncode == 1, out  # … but the session failed
    assert "LOG SCAN" in out
    assert "SESSIONHUB_SECRET_KEY found in log record of app.child during" in out
    assert "test_child.py::test_configures_and_leaks" in out
    assert PLANTED not in out
