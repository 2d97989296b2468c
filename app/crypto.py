"""Encryption at rest: Fernet with key rotation (first key encrypts, all keys decrypt)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Crypto:
    """Encrypt and decrypt small secrets (tokens, per-endpoint secrets)."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plain: str) -> str:
        """Ciphertext (URL-safe text) for a secret."""
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The secret behind a ciphertext; ValueError when no key opens it."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as err:
            raise ValueError("ciphertext cannot be opened with the configured keys") from err

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(token.encode()).decode()
