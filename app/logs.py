"""Logging with context: extra fields (provider, delivery, session, job) on every line."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

#: secrets that travel in URLs: OAuth codes and state, link and feed tokens, Graph validation
_SECRET_QUERY = re.compile(r"([?&](?:code|state|token|validationToken|session_state)=)[^&\s\"]+")
_FEED_PATH = re.compile(r"(/ics/coaches/[^/\s\"]+/)[^/\s\"?]+(\.ics)")


def redact(text: str) -> str:
    """A log line with the secrets URLs can carry replaced by ***."""
    return _FEED_PATH.sub(r"\1***\2", _SECRET_QUERY.sub(r"\1***", text))


class RedactFilter(logging.Filter):
    """Scrubs URL secrets from every record (access logs print whole request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """`time level logger message key=value …`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ctx = _context(record)
        if ctx:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(ctx.items()))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Install the hub's formatter on the root logger (once)."""
    root = logging.getLogger()
    if any(getattr(h, "_sessionhub", False) for h in root.handlers):
        return
    scrub = RedactFilter()
    for name in ("gunicorn.access", "werkzeug"):  # request lines are logged there
        logging.getLogger(name).addFilter(scrub)
    handler = logging.StreamHandler()
    handler.addFilter(scrub)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._sessionhub = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
