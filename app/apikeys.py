"""API keys: shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session as Db
from sqlmodel import select

from app.db import utcnow
from app.errors import Conflict, NotFound
from app.models import ApiKey

PREFIX = "shk_"


def _hash(token: str) -> str:
    # keys are 256-bit random: a plain SHA-256 is enough (no password stretching needed)
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(db: Db, name: str, scopes: tuple[str, ...] = ("api",)) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the only copy of the secret."""
    if db.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
        raise Conflict(f"an API key named {name!r} exists already", field="name")
    token = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=token[:10], key_hash=_hash(token), scopes=list(scopes))
    db.add(key)
    db.flush()
    return key, token


def authenticate(db: Db, token: str) -> ApiKey | None:
    """The live key for a presented token, or None."""
    key = db.exec(select(ApiKey).where(ApiKey.key_hash == _hash(token))).first()
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now  # at most one write a minute per key
        db.add(key)
    return key


def revoke_key(db: Db, name: str) -> ApiKey:
    """Revoke a key by name."""
    key = db.exec(select(ApiKey).where(ApiKey.name == name)).first()
    if key is None:
        raise NotFound(f"no API key named {name!r}", field="name")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.add(key)
    return key


def list_keys(db: Db) -> list[ApiKey]:
    """Every key, oldest first."""
    return list(db.exec(select(ApiKey).order_by(ApiKey.id)))  # type: ignore[arg-type]
