"""Signing keys, access tokens (EdDSA JWT) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from helpdesk_common.auth import Principal, generate_keypair, sign_access_token
from identity.models import User
from identity.settings import IdentitySettings


def public_key_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("jwt_private_key must be an Ed25519 private key (PEM, PKCS#8)")
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def resolve_signing_keys(settings: IdentitySettings) -> tuple[IdentitySettings, bool]:
    """Settings whose public key matches the private key; True if the key was generated.

    A generated key lives only as long as the process: other services cannot verify its
    tokens, hence allowed only outside production (``check_secrets`` refuses it there).
    """
    generated = False
    private_key = settings.jwt_private_key
    if not private_key:
        private_key, _ = generate_keypair()
        generated = True
    public_key = public_key_of(private_key)
    configured = settings.jwt_public_key
    if configured and not generated and _normalise(configured) != _normalise(public_key):
        raise ValueError("jwt_public_key does not belong to jwt_private_key")
    update = {"jwt_private_key": private_key, "jwt_public_key": public_key}
    return settings.model_copy(update=update), generated


def _normalise(pem: str) -> str:
    return "".join(pem.split())


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    token_hash: str


class TokenIssuer:
    def __init__(self, settings: IdentitySettings) -> None:
        self.private_key = settings.jwt_private_key
        self.public_key = settings.jwt_public_key
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.access_ttl = timedelta(seconds=settings.access_token_ttl_seconds)
        self.refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)

    def access_token(self, user: User) -> str:
        principal = Principal(
            user_id=user.id,
            role=user.role,
            unit_id=user.unit_id,
            name=user.full_name,
            email=user.email,
            language=user.language,
            # Lets a service whose copy of the user lags behind believe this newer token.
            revision=user.revision,
        )
        return sign_access_token(
            principal,
            private_key=self.private_key,
            issuer=self.issuer,
            audience=self.audience,
            ttl=self.access_ttl,
        )

    @staticmethod
    def new_refresh_token() -> IssuedRefreshToken:
        token = secrets.token_urlsafe(32)
        return IssuedRefreshToken(token=token, token_hash=hash_refresh_token(token))


def hash_refresh_token(token: str) -> str:
    # A refresh token has 256 random bits, so a plain SHA-256 suffices (no brute force to
    # slow down) and stays indexable for the lookup.
    return hashlib.sha256(token.encode()).hexdigest()
