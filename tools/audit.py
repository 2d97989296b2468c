"""`make audit`: known vulnerabilities in the installed dependencies (pip-audit), told honestly.

pip-audit asks a vulnerability database about every installed distribution (PyPI's JSON API by
default, `AUDIT_SERVICE=osv` for OSV). When it can look up NONE of them — no database reachable,
as on a machine whose package index is a mirror without the JSON API — pip-audit itself still
says "No known vulnerabilities found"; this wrapper says SKIPPED instead, and fails when
`SESSIONHUB_AUDIT_REQUIRED=1` (set it wherever a database is reachable, so an outage is seen).

Exit status: 0 clean (or skipped), 1 vulnerable packages, 2 could not audit although required.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 600


def run_pip_audit(output: Path) -> subprocess.CompletedProcess[str]:
    """pip-audit over this interpreter's environment, as JSON (the project is editable: skipped)."""
    argv = [
        str(Path(sys.executable).parent / "pip-audit"),
        "--progress-spinner",
        "off",
        "--skip-editable",
        "--vulnerability-service",
        os.environ.get("AUDIT_SERVICE", "pypi"),
        "--format",
        "json",
        "--output",
        str(output),
    ]
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
    )


#: how a vulnerability database that cannot be reached shows in pip-audit's errors
NETWORK_ERRORS = (
    "ConnectionError",
    "NameResolutionError",
    "Failed to establish a new connection",
    "Max retries exceeded",
    "timed out",
    "Temporary failure in name resolution",
)


def unreachable(errors: str) -> bool:
    """pip-audit failed because no vulnerability database answered (not for another reason)."""
    return any(marker in errors for marker in NETWORK_ERRORS)


def verdict(report: dict[str, Any], required: bool) -> tuple[int, list[str]]:
    """The exit status and the lines to print for a pip-audit JSON report."""
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            lines.append(
                f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})"
            )
    if vulnerable:
        return 1, lines
    if deps and not audited:
        reason = skipped[0]["skip_reason"]
        lines.append(
            f"audit SKIPPED: no vulnerability database reachable — 0 of {len(deps)} packages "
            f"could be looked up (e.g. {reason!r})"
        )
        if required:
            lines.append("SESSIONHUB_AUDIT_REQUIRED=1: failing")
            return 2, lines
        return 0, lines
    for dep in skipped:
        lines.append(f"not audited: {dep['name']} ({dep['skip_reason']})")
    lines.append(f"audit: {len(audited)} packages, no known vulnerabilities")
    return 0, lines


def main() -> int:
    required = os.environ.get("SESSIONHUB_AUDIT_REQUIRED", "") == "1"
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "audit.json"
        try:
            done = run_pip_audit(output)
        except subprocess.TimeoutExpired:
            done = None
        report = json.loads(output.read_text()) if output.exists() else None
    if report is None:
        errors = done.stderr if done else "timed out"
        if not unreachable(errors):
            print(f"audit FAILED: pip-audit produced no report:\n{errors.strip()[-3000:]}")
            return 2
        print(f"audit SKIPPED: no vulnerability database reachable ({errors.strip()[-300:]})")
        return 2 if required else 0
    status, lines = verdict(report, required)
    for line in lines:
        print(line)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
