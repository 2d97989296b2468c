"""Small, constant-time helpers shared by the webhook verifiers."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence

from connectors.errors import InvalidSignature


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Raw HMAC-SHA256 digest."""
    return hmac.new(key, message, hashlib.sha256).digest()


def equals(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two strings or byte strings."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def require_secrets(secrets: Sequence[str]) -> Sequence[str]:
    """Refuse to verify against no secret at all."""
    usable = [s for s in secrets if s]
    if not usable:
        raise InvalidSignature("no webhook secret is configured")
    return usable


def match_any(
    provided: Iterable[str], secrets: Sequence[str], expected: Callable[[str], str]
) -> None:
    """Pass when any provided signature equals the expected one for any secret (rotation)."""
    candidates = [p for p in provided if p]
    if not candidates:
        raise InvalidSignature("signature header is empty")
    ok = False
    for secret in require_secrets(secrets):
        want = expected(secret)
        for got in candidates:
            # no early exit: every pair is compared, so timing says nothing about which matched
            ok |= equals(want, got)
    if not ok:
        raise InvalidSignature("signature does not match")
