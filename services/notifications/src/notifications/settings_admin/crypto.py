"""Encryption of the stored SMTP password (helpdesk_common.crypto, key derived from
``secret_key``)."""

from __future__ import annotations

from helpdesk_common.crypto import SecretCipher, UnreadableSecret

__all__ = ["PasswordCipher", "UnreadableSecret"]


class PasswordCipher(SecretCipher):
    def __init__(self, secret_key: str) -> None:
        # The label stays what it was, so passwords stored before keep decrypting.
        super().__init__(secret_key, purpose="helpdesk-notifications-smtp")
