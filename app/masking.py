"""Masking secrets in stored deliveries before a person sees them (the ops dashboard)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

MASK = "••••••"

#: a key or header whose value is a credential: anything naming a token, secret, password,
#: key, signature, cookie or Graph's clientState
_SECRET_NAME = re.compile(
    r"token|secret|passw|authori[sz]ation|api[-_]?key|apikey|private[-_]?key|signature|"
    r"cookie|credential|client[-_]?state|hmac",
    re.IGNORECASE,
)
#: credentials recognisable by their value wherever they appear in free text
_SECRET_VALUE = re.compile(
    r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}"
    r"|\bwhsec_[A-Za-z0-9+/=]{8,}"
    r"|\bshk_[A-Za-z0-9_-]{8,}"
    r"|\bey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}"  # a JWT
)
#: `name=value` or `"name": "value"` pairs in text that is neither JSON nor a form
_SECRET_PAIR = re.compile(
    r"""(?P<name>["']?[\w-]*(?:token|secret|passw\w*|api[-_]?key|signature|authorization)"""
    r"""[\w-]*["']?\s*[=:]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s&,;}"']+)""",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a field or header name holds a credential."""
    return bool(_SECRET_NAME.search(name))


def mask_text(text: str) -> str:
    """Free text with recognisable credentials and `secret=value` pairs masked."""
    text = _SECRET_PAIR.sub(lambda m: m.group("name") + MASK, text)
    return _SECRET_VALUE.sub(MASK, text)


def mask_data(value: Any) -> Any:
    """A JSON value with every credential-named field's value masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if is_secret_name(str(k)) and v not in (None, "") else mask_data(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credential values (Authorization, Cookie, *-Signature, …) masked."""
    return {k: (MASK if is_secret_name(k) else mask_text(str(v))) for k, v in headers.items()}


def mask_body(raw: bytes, content_type: str = "") -> str:
    """A stored body as readable text with its secrets masked (JSON pretty-printed)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(raw)} bytes, not UTF-8 text: not shown)"
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(stripped)
        except ValueError:
            return mask_text(text)
        return json.dumps(mask_data(data), indent=2, ensure_ascii=False)
    if "x-www-form-urlencoded" in content_type.lower():
        pairs = parse_qsl(stripped, keep_blank_values=True)
        return "\n".join(f"{k}={MASK if is_secret_name(k) else mask_text(v)}" for k, v in pairs)
    return mask_text(text)
