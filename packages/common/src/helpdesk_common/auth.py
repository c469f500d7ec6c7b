"""Signed access tokens (EdDSA): identity signs with its private key, everyone verifies.

Every service verifies the caller's token itself, so a service reached directly, past the
gateway, is protected all the same. Service-to-service endpoints (``/internal/...``, never
forwarded by the gateway) take no user token but the shared internal token instead
(:data:`InternalCaller`).
"""

from __future__ import annotations

import hmac
import itertools
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Header, Request
from pydantic import BaseModel

from helpdesk_common.contracts.identity import Role
from helpdesk_common.errors import ApiError
from helpdesk_common.standing import standing_error

if TYPE_CHECKING:
    from helpdesk_common.runtime import Runtime

ALGORITHM = "EdDSA"


class Principal(BaseModel):
    """The authenticated caller, as the token says."""

    user_id: uuid.UUID
    role: Role
    unit_id: uuid.UUID | None = None
    name: str = ""
    email: str | None = None
    language: str = "id"
    # Identity's revision of the user when the token was signed (claim ``rev``; None in
    # tokens from before it was added): see helpdesk_common.standing.
    revision: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin", "leader")


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def ensure_keypair(directory: Path) -> tuple[Path, Path, bool]:
    """``jwt-private.pem`` and ``jwt-public.pem`` in ``directory``, made once and kept;
    the third value says whether they were made now."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "jwt-private.pem", directory / "jwt-public.pem"
    if private.exists() and public.exists():
        return private, public, False
    private_pem, public_pem = generate_keypair()
    private.write_text(private_pem)
    private.chmod(0o600)
    public.write_text(public_pem)
    return private, public, True


def sign_access_token(
    principal: Principal,
    *,
    private_key: str,
    issuer: str,
    audience: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(principal.user_id),
        "role": principal.role,
        "unit_id": str(principal.unit_id) if principal.unit_id else None,
        "name": principal.name,
        "email": principal.email,
        "lang": principal.language,
        "rev": principal.revision,
        "typ": "access",
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_key, algorithm=ALGORITHM)


def verify_access_token(token: str, *, public_key: str, issuer: str, audience: str) -> Principal:
    """The principal of a valid token; ``ApiError(401)`` for anything else."""
    return verify_with_expiry(token, public_key=public_key, issuer=issuer, audience=audience)[0]


def verify_with_expiry(
    token: str, *, public_key: str, issuer: str, audience: str
) -> tuple[Principal, float]:
    """The principal of a valid token and its expiry (UNIX time), for caching the outcome
    until then; ``ApiError(401)`` for anything else."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "token_expired", "The access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise ApiError(401, "invalid_token", "The access token is not valid") from exc
    if claims.get("typ") != "access":
        raise ApiError(401, "invalid_token", "Not an access token")
    try:
        principal = Principal(
            user_id=claims["sub"],
            role=claims["role"],
            unit_id=claims.get("unit_id"),
            name=claims.get("name") or "",
            email=claims.get("email"),
            language=claims.get("lang") or "id",
            revision=claims.get("rev"),
        )
    except (KeyError, ValueError) as exc:
        raise ApiError(401, "invalid_token", "The access token is not valid") from exc
    return principal, float(claims["exp"])


class VerifiedTokens:
    """Tokens this app verified, with their principal, until the token's own ``exp``.

    A client sends the same token with every request for the token's whole life, and
    checking its signature and claims again costs more than a typical request's own work
    (~0.2 ms). A token is immutable, so a successful verification stays true until it
    expires. Failures are never remembered (an attacker can vary them freely), and the
    oldest entries make way once ``size`` tokens are held.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._items: dict[str, tuple[Principal, float]] = {}

    def get(self, token: str) -> Principal | None:
        item = self._items.get(token)
        if item is None:
            return None
        if time.time() >= item[1]:
            self._items.pop(token, None)
            return None
        return item[0]

    def put(self, token: str, principal: Principal, expires: float) -> None:
        if len(self._items) >= self._size:
            # Insertion order: the first keys are the oldest.
            for old in list(itertools.islice(self._items, self._size // 10 or 1)):
                del self._items[old]
        self._items[token] = (principal, expires)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


async def get_principal(request: Request) -> Principal:
    # async on purpose: a plain ``def`` dependency would run in FastAPI's thread pool,
    # costing a thread hop on every request.
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "not_authenticated", "A bearer token is required")
    runtime: Runtime = request.app.state.runtime
    principal = runtime.verified_tokens.get(token)
    if principal is None:
        settings = runtime.settings
        principal, expires = verify_with_expiry(
            token,
            public_key=settings.jwt_public_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        runtime.verified_tokens.put(token, principal, expires)
    # A signed token outlives a change of its user's role or unit, or the account's
    # deactivation, by up to its lifetime; the service's own copy of the users says whether
    # it still counts (one dict lookup).
    refused = standing_error(runtime.user_standings, principal)
    if refused is not None:
        raise refused
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):
    """Dependency: the caller must hold one of ``roles`` (403 otherwise)."""

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"This action requires one of the roles: {', '.join(roles)}",
            )
        return principal

    return check


# A header's name, not a secret.
INTERNAL_TOKEN_HEADER = "X-Internal-Token"  # noqa: S105


async def require_internal_caller(
    request: Request,
    token: Annotated[
        str | None,
        Header(
            alias=INTERNAL_TOKEN_HEADER,
            description="the shared internal token (service-to-service calls only)",
        ),
    ] = None,
) -> None:
    """Dependency of service-to-service endpoints: the ``X-Internal-Token`` header must equal
    the service's ``internal_token`` setting (401 ``invalid_internal_token``); with no token
    configured the internal API is switched off (403 ``internal_api_disabled``)."""
    runtime: Runtime = request.app.state.runtime
    expected = runtime.settings.internal_token
    if not expected:
        raise ApiError(
            403,
            "internal_api_disabled",
            "The internal API of this service is switched off (no internal token is configured)",
        )
    # Compared as bytes (headers arrive decoded as latin-1), in constant time.
    given = (token or "").encode("latin-1")
    if not hmac.compare_digest(given, expected.encode()):
        raise ApiError(
            401,
            "invalid_internal_token",
            f"A valid {INTERNAL_TOKEN_HEADER} header is required",
        )


InternalCaller = Annotated[None, Depends(require_internal_caller)]
