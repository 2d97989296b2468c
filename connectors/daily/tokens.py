"""Self-signed Daily meeting tokens: a JWT keyed by the API key, no round-trip to Daily.

https://docs.daily.co/reference/rest-api/meeting-tokens/self-signing-tokens — claims use
abbreviated names: r room, d domain id, ud user id, u user name, o owner, ejt eject at exp.
"""

from __future__ import annotations

import warnings
from datetime import datetime

import jwt
from jwt.warnings import InsecureKeyLengthWarning


def sign_meeting_token(
    api_key: str,
    *,
    domain_id: str,
    room_name: str,
    user_id: str,
    user_name: str,
    is_owner: bool,
    nbf: datetime,
    exp: datetime,
    now: datetime,
) -> str:
    """A token for one person in one room, valid from nbf to exp."""
    claims = {
        "r": room_name,
        "d": domain_id,
        "iat": int(now.timestamp()),
        "nbf": int(nbf.timestamp()),
        "exp": int(exp.timestamp()),
        "ud": user_id,
        "u": user_name,
        "o": is_owner,
        "ejt": True,
    }
    with warnings.catch_warnings():
        # the key is Daily's API key: its length is Daily's choice, not ours to refuse
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, api_key, algorithm="HS256")
