"""A pytest plugin: no secret the tests configured may appear in the suite's log output.

What is collected, for the whole session:
- every log record, through a handler on the root logger that scrubs like the hub's own handler
  (app.logs.RedactFilter) — what production would write;
- every `*.log` file under the session's base temp directory at the end: the convention for the
  output of subprocesses the tests start (tests/smoke writes `<tmp_path>/logs/<process>.log`).

The secrets: every value of a secret field of every Settings built (secret key, encryption keys,
webhook secrets, provider API keys, OAuth client secrets, metrics token, passwords in URLs),
every secret-named variable handed to a subprocess (…SECRET…, …TOKEN…, …PASSWORD…, …_KEY(S)),
every API key created, and the shapes of keys and tokens issued anywhere (API keys `shk_…`, the
sandbox's Google and Microsoft access/refresh tokens and codes).

Lines that hand credentials over on purpose (HAND_OFFS, each with its reason) are not leaks.
At the end a leak fails the session (exit status 1) with the kind of secret and where it was
found — never the secret itself. Values shorter than 8 characters are not looked for.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

MIN_LENGTH = 8
_SECRET_ENV = re.compile(r"SECRET|TOKEN|PASSWORD|_KEYS?$")
_URLSAFE = "A-Za-z0-9_-"
#: keys and tokens recognisable by their shape, wherever they were made
SHAPES = {
    "API key (shk_…)": rf"shk_[{_URLSAFE}]{{43}}",
    "sandbox Google access token": rf"ya29\.sandbox-[{_URLSAFE}]{{43}}",
    "sandbox Google refresh token": rf"1//0sandbox-[{_URLSAFE}]{{43}}",
    "sandbox Google authorization code": rf"4/0sandbox-[{_URLSAFE}]{{32}}",
    "sandbox Microsoft access token": rf"EwB[{_URLSAFE}]{{54}}",
    "sandbox Microsoft refresh token": rf"M\.R3_[{_URLSAFE}]{{54}}",
}


#: (file name, line) shapes that hand credentials over on purpose — not log output — each with
#: its reason. Keep this short.
HAND_OFFS = [
    (
        re.compile(r"sandbox.*\.log"),
        re.compile(r"SESSIONHUB_[A-Z0-9_]+=\S*"),
        "`sessionhub sandbox` prints the settings a hub needs to use it (its own fake "
        "credentials), one NAME=value per line, by design",
    ),
]


@dataclass
class Finding:
    kind: str
    where: str


@dataclass
class LogScan:
    """Secrets to look for, and the text to look in."""

    secrets: dict[str, str] = field(default_factory=dict)  # value -> kind
    records: list[tuple[str, str]] = field(default_factory=list)  # (where, text)
    shapes: Mapping[str, str] = field(default_factory=lambda: dict(SHAPES))

    def add(self, kind: str, value: object) -> None:
        """A secret to look for (too short or empty values are ignored)."""
        if isinstance(value, str) and len(value.strip()) >= MIN_LENGTH:
            self.secrets.setdefault(value.strip(), kind)

    def add_settings(self, settings: Any) -> None:
        """Every secret field of a Settings object."""
        self.add("SESSIONHUB_SECRET_KEY", settings.secret_key)
        for key in settings.encryption_keys:
            self.add("SESSIONHUB_ENCRYPTION_KEYS entry", key)
        for slug, values in settings.webhook_secrets.items():
            for value in values:
                self.add(f"{slug} webhook secret", value)
        for slug, value in settings.api_keys.items():
            self.add(f"{slug} provider API key", value)
        for slug, oauth in settings.oauth.items():
            self.add(f"{slug} OAuth client secret", oauth.get("client_secret"))
        self.add("metrics token", settings.metrics_token)
        for name in ("database_url", "redis_url", "smtp_url"):
            self.add(f"password in {name}", _password(getattr(settings, name)))

    def add_env(self, env: Mapping[str, str], source: str) -> None:
        """Secret-named variables of a subprocess's environment."""
        for name, value in env.items():
            if _SECRET_ENV.search(name):
                for part in value.split(","):
                    self.add(f"{name} (handed to a subprocess, first {source})", part)

    def feed(self, where: str, text: str) -> None:
        self.records.append((where, text))

    def scan(self, files: Iterable[Path] = ()) -> list[Finding]:
        """Every (kind, place) where a secret appears; one finding per kind and place."""
        pattern = self._pattern()
        found: dict[tuple[str, str], Finding] = {}

        def look(where: str, text: str) -> None:
            for match in pattern.finditer(text):
                kind = self.secrets.get(match.group(0)) or self._shape_kind(match.group(0))
                found.setdefault((kind, where), Finding(kind, where))

        for where, text in self.records:
            look(where, text)
        for path in files:
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines, 1):
                if not _handed_over(path.name, line):
                    look(f"{path}:{number}", line)
        return list(found.values())

    def _shape_kind(self, text: str) -> str:
        for kind, shape in self.shapes.items():
            if re.fullmatch(shape, text):
                return kind
        return "secret"

    def _pattern(self) -> re.Pattern[str]:
        # the literal secrets as one trie-shaped regex (thousands of keys stay fast), then shapes
        parts = [_trie(sorted(self.secrets))] if self.secrets else []
        parts += [rf"(?<![{_URLSAFE}]){s}(?![{_URLSAFE}])" for s in self.shapes.values()]
        return re.compile("|".join(parts) or r"(?!)")


def _handed_over(name: str, line: str) -> bool:
    return any(f.fullmatch(name) and ln.fullmatch(line.strip()) for f, ln, _ in HAND_OFFS)


def _password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _trie(words: list[str]) -> str:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(c) + build(node[c]) for c in sorted(node) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # longest match first, so a secret that extends another is reported as itself
        return f"(?:{body})?" if ends else body

    return build(root)


class _Collect(logging.Handler):
    """Keeps every record as the hub's handler would write it (scrubbed, with context)."""

    def __init__(self, scan: LogScan) -> None:
        from app.logs import RedactFilter, TextFormatter

        super().__init__(logging.NOTSET)
        self.scan = scan
        self.addFilter(RedactFilter())
        self.setFormatter(TextFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot be formatted: keep what we can
            text = f"{record.msg!r} {record.args!r}"
        where = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").rsplit(" ", 1)[0]
        self.scan.feed(f"log record of {record.name} during {where}", text)


SCAN = LogScan()
_findings: list[Finding] = []
_checked: list[str] = []


def _patch_sources(scan: LogScan) -> Iterator[None]:
    """Register secrets where they are made: Settings, subprocess environments, API keys."""
    import app.apikeys
    from app.config import Settings

    settings_init = Settings.__init__
    popen_init = subprocess.Popen.__init__
    create_key = app.apikeys.create_key

    def init_settings(self: Settings, *args: Any, **kwargs: Any) -> None:
        settings_init(self, *args, **kwargs)
        scan.add_settings(self)

    def init_popen(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        if kwargs.get("env"):
            argv = args[0] if args else kwargs.get("args")
            name = Path(str(argv[0] if isinstance(argv, list | tuple) else argv)).name
            scan.add_env(kwargs["env"], f"environment of {name}")
        popen_init(self, *args, **kwargs)

    def make_key(*args: Any, **kwargs: Any) -> Any:
        key, token = create_key(*args, **kwargs)
        scan.add("API key", token)
        return key, token

    Settings.__init__ = init_settings  # type: ignore[method-assign]
    subprocess.Popen.__init__ = init_popen  # type: ignore[method-assign]
    app.apikeys.create_key = make_key
    try:
        yield
    finally:
        Settings.__init__ = settings_init  # type: ignore[method-assign]
        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
        app.apikeys.create_key = create_key


_patches: Iterator[None] | None = None
_handler: _Collect | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _patches, _handler
    _handler = _Collect(SCAN)
    logging.getLogger().addHandler(_handler)
    _patches = _patch_sources(SCAN)
    next(_patches)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
    if _patches is not None:
        next(_patches, None)
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)
    files = sorted(Path(base).rglob("*.log")) if base else []
    _findings[:] = SCAN.scan(files)
    _checked[:] = [
        f"{len(SCAN.records)} log records and {len(files)} log files checked for "
        f"{len(SCAN.secrets)} configured secrets and {len(SCAN.shapes)} token shapes"
    ]
    if _findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _findings:
        terminalreporter.write_line(f"log scan: {' '.join(_checked)}: no leak")
        return
    terminalreporter.write_sep("=", "LOG SCAN: secrets in the log output", red=True)
    for finding in _findings[:50]:
        terminalreporter.write_line(f"{finding.kind} found in {finding.where}", red=True)
    if len(_findings) > 50:
        terminalreporter.write_line(f"… and {len(_findings) - 50} more", red=True)
