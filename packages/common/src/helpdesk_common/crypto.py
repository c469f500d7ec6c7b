"""Secrets kept in a service's database (an SMTP or IMAP password, a webhook's signing
secret): encrypted with Fernet under a key derived from the service's ``secret_key``, so a
database dump alone does not give them away."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UnreadableSecret(Exception):
    """The stored value was encrypted with another key (``secret_key`` changed)."""


class SecretCipher:
    def __init__(self, secret_key: str, *, purpose: str) -> None:
        # HKDF turns an arbitrary-length secret into the 32 bytes Fernet needs; the purpose
        # (HKDF's info) keeps each use's key distinct from anything else derived from it.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UnreadableSecret("a stored secret cannot be decrypted") from exc
