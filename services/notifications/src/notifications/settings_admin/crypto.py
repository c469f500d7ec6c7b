"""Encryption of the stored SMTP password (Fernet, key derived from ``secret_key``)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class UnreadableSecret(Exception):
    """The stored value was encrypted with another key (``secret_key`` changed)."""


class PasswordCipher:
    def __init__(self, secret_key: str) -> None:
        # HKDF turns an arbitrary-length secret into the 32 bytes Fernet needs; the info label
        # keeps this key distinct from anything else derived from the same secret.
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpdesk-notifications-smtp"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise UnreadableSecret("the stored SMTP password cannot be decrypted") from exc
