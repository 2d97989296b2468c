"""Configuration: defaults, then a mapping, then SESSIONHUB_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

#: real provider API base URLs (overridable per provider for the sandbox)
DEFAULT_API_URLS = {
    "calcom": "https://api.cal.com/v2",
    "daily": "https://api.daily.co/v1",
    "google": "https://www.googleapis.com",
    "outlook": "https://graph.microsoft.com/v1.0",
    "stripe": "https://api.stripe.com",
}


class ConfigError(Exception):
    """Configuration that the hub cannot start with; the message is one clear line."""


@dataclass(frozen=True)
class Settings:
    """Everything the hub reads from its environment."""

    database_url: str
    redis_url: str | None
    secret_key: str
    encryption_keys: tuple[str, ...]
    public_url: str = "http://127.0.0.1:8000"
    webhook_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    api_urls: Mapping[str, str] = field(default_factory=dict)
    api_keys: Mapping[str, str] = field(default_factory=dict)
    #: OAuth client settings of the calendar providers: client_id, client_secret, oauth_url,
    #: tenant, authority_url (SESSIONHUB_<SLUG>_CLIENT_ID, …)
    oauth: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    var_dir: Path = Path("var")
    max_body_bytes: int = 1024 * 1024
    stuck_after_seconds: int = 60
    calcom_sweep_minutes: int = 10
    log_format: str = "text"
    job_retry_intervals: tuple[int, ...] = (5, 30, 120, 600, 1800)
    queue_name: str = "sessionhub"
    metrics_token: str | None = None
    smtp_url: str | None = None
    mail_from: str = "SessionHub <sessionhub@localhost>"
    testing: bool = False
    #: raw webhook bodies (and delivered outbound payloads) are purged after this; 0 = keep
    delivery_retention_days: int = 30
    #: flask-limiter rate strings: per provider on /webhooks/*, per API key on /api/*
    rate_limit_webhooks: str = "600/minute"
    rate_limit_api: str = "120/minute"
    #: how often the sweeps re-enqueue stuck deliveries, pending links and dirty feeds
    requeue_sweep_seconds: int = 60
    #: with Redis, how a stored delivery reaches the queue: `batch` (a worker hands rows off in
    #: batches, the request only inserts) or `direct` (the request enqueues its own job)
    inbox_handoff: str = "batch"
    #: the niceness `sessionhub worker` runs at: where workers share cores with the web tier,
    #: accepting webhooks (a provider waits for the answer) goes before background jobs
    worker_nice: int = 10

    @property
    def embedded(self) -> bool:
        """No Redis: an in-process queue and worker thread (single process only)."""
        return self.redis_url is None

    def api_url(self, slug: str) -> str:
        """The base URL of a provider's API."""
        return self.api_urls.get(slug) or DEFAULT_API_URLS.get(slug, "")

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests)."""
        return replace(self, **changes)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _generated(var_dir: Path, name: str, make: Any) -> str:
    """Read a value generated once into var/, creating it with owner-only permissions."""
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name, str(default)))
    except ValueError as err:
        raise ConfigError(f"{name} must be a whole number") from err
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def load(env: Mapping[str, str] | None = None, slugs: tuple[str, ...] = ()) -> Settings:
    """Build Settings from the environment; raise ConfigError with one clear line."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("SESSIONHUB_VAR_DIR", "var")).resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'sessionhub.db'}"
    redis_url = env.get("REDIS_URL") or None
    embedded = redis_url is None

    secret_key = env.get("SESSIONHUB_SECRET_KEY", "")
    keys = _split(env.get("SESSIONHUB_ENCRYPTION_KEYS"))
    if embedded:
        secret_key = secret_key or _generated(var_dir, "secret_key", lambda: secrets.token_hex(32))
        keys = keys or (
            _generated(var_dir, "encryption_key", lambda: Fernet.generate_key().decode()),
        )
    if not secret_key:
        raise ConfigError("SESSIONHUB_SECRET_KEY is required when REDIS_URL is set")
    if not keys:
        raise ConfigError("SESSIONHUB_ENCRYPTION_KEYS is required when REDIS_URL is set")
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError) as err:
            raise ConfigError(
                f"SESSIONHUB_ENCRYPTION_KEYS entry {index + 1} is not a valid Fernet key"
            ) from err
    if not database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    all_slugs = tuple(dict.fromkeys((*DEFAULT_API_URLS, *slugs)))
    webhook_secrets = {
        s: _split(env.get(f"SESSIONHUB_{s.upper()}_WEBHOOK_SECRET")) for s in all_slugs
    }
    api_urls = {
        s: env[f"SESSIONHUB_{s.upper()}_API_URL"].rstrip("/")
        for s in all_slugs
        if env.get(f"SESSIONHUB_{s.upper()}_API_URL")
    }
    api_keys = {
        s: env[f"SESSIONHUB_{s.upper()}_API_KEY"]
        for s in all_slugs
        if env.get(f"SESSIONHUB_{s.upper()}_API_KEY")
    }
    oauth = {
        s: {
            key.lower(): env[f"SESSIONHUB_{s.upper()}_{key}"]
            for key in (
                "CLIENT_ID",
                "CLIENT_SECRET",
                "OAUTH_URL",
                "TENANT",
                "AUTHORITY_URL",
                "CA_BUNDLE",
            )
            if env.get(f"SESSIONHUB_{s.upper()}_{key}")
        }
        for s in ("google", "outlook")
    }
    sweep_minutes = _whole(env, "SESSIONHUB_CALCOM_SWEEP_MINUTES", 10)
    stuck_after = _whole(env, "SESSIONHUB_STUCK_AFTER_SECONDS", 60)
    webhook_rate = _rate_limit(env, "SESSIONHUB_RATE_LIMIT_WEBHOOKS", "600/minute")
    api_rate = _rate_limit(env, "SESSIONHUB_RATE_LIMIT_API", "120/minute")
    extra = _retry_and_sweeps(env)
    handoff = env.get("SESSIONHUB_INBOX_HANDOFF", "").strip() or "batch"
    if handoff not in ("batch", "direct"):
        raise ConfigError("SESSIONHUB_INBOX_HANDOFF must be batch or direct")
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        encryption_keys=keys,
        public_url=env.get("SESSIONHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        webhook_secrets={k: v for k, v in webhook_secrets.items() if v},
        api_urls=api_urls,
        api_keys=api_keys,
        oauth={k: v for k, v in oauth.items() if v.get("client_id")},
        var_dir=var_dir,
        calcom_sweep_minutes=sweep_minutes,
        stuck_after_seconds=stuck_after,
        log_format=env.get("SESSIONHUB_LOG_FORMAT", "text"),
        queue_name=env.get("SESSIONHUB_QUEUE_NAME", "sessionhub"),
        metrics_token=env.get("SESSIONHUB_METRICS_TOKEN") or None,
        smtp_url=env.get("SESSIONHUB_SMTP_URL") or None,
        mail_from=env.get("SESSIONHUB_MAIL_FROM", "SessionHub <sessionhub@localhost>"),
        delivery_retention_days=_whole(env, "SESSIONHUB_DELIVERY_RETENTION_DAYS", 30),
        rate_limit_webhooks=webhook_rate,
        rate_limit_api=api_rate,
        inbox_handoff=handoff,
        worker_nice=_whole(env, "SESSIONHUB_WORKER_NICE", 10),
        **extra,
    )


def _rate_limit(env: Mapping[str, str], var: str, default: str) -> str:
    """A flask-limiter rate string, checked now so that a typo stops the start."""
    from limits import parse_many

    value = env.get(var, "").strip() or default
    try:
        if any(item.amount < 1 for item in parse_many(value)):
            raise ValueError(value)
    except ValueError as err:
        raise ConfigError(
            f"{var} must be a rate limit such as {default!r} (got {value!r})"
        ) from err
    return value


def _retry_and_sweeps(env: Mapping[str, str]) -> dict[str, Any]:
    """SESSIONHUB_JOB_RETRY_INTERVALS and SESSIONHUB_REQUEUE_SWEEP_SECONDS."""
    intervals = Settings.job_retry_intervals
    if env.get("SESSIONHUB_JOB_RETRY_INTERVALS"):
        try:
            intervals = tuple(int(v) for v in _split(env["SESSIONHUB_JOB_RETRY_INTERVALS"]))
        except ValueError as err:
            raise ConfigError(
                "SESSIONHUB_JOB_RETRY_INTERVALS must be whole seconds separated by commas"
            ) from err
        if not intervals or any(v < 0 for v in intervals):
            raise ConfigError("SESSIONHUB_JOB_RETRY_INTERVALS must list seconds, none negative")
    sweep = _whole(env, "SESSIONHUB_REQUEUE_SWEEP_SECONDS", 60)
    if sweep < 1:
        raise ConfigError("SESSIONHUB_REQUEUE_SWEEP_SECONDS must be at least 1")
    return {"job_retry_intervals": intervals, "requeue_sweep_seconds": sweep}
