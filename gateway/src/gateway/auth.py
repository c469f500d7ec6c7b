"""Authentication at the edge: bearer tokens verified once, then remembered until they expire.

An EdDSA verification costs tens of microseconds of CPU; a client sends the same token with
every request for its whole lifetime, so the gateway keeps the outcome of a successful
verification (the subject) keyed by the token string until the token's own ``exp``. Failed
verifications are never cached: they are cheap to repeat and an attacker can vary them freely.
Services verify the token again themselves, so this is a filter, not the last line of defence.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from helpdesk_common.auth import verify_with_expiry

# (method, path) pairs reachable without a token: signing in and fetching the verification key.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/api/identity/auth/login"),
        ("POST", "/api/identity/auth/refresh"),
        ("GET", "/api/identity/auth/public-key"),
    }
)


# (method, path prefix) pairs reachable without a token: the chat providers' webhooks, which
# sign each request with the channel's secret instead (checked by the integrations service).
PUBLIC_PREFIXES: tuple[tuple[str, str], ...] = (
    ("POST", "/api/integrations/hooks/"),
    # The WhatsApp Cloud API's subscription handshake (hub.verify_token, hub.challenge).
    ("GET", "/api/integrations/hooks/"),
)


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES or any(
        method == public_method and path.startswith(prefix)
        for public_method, prefix in PUBLIC_PREFIXES
    )


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header of raw ASGI headers, if any."""
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or not token:
                return None
            return token
    return None


class TokenVerifier:
    """Verifies access tokens with the identity service's public key, with a bounded cache."""

    def __init__(self, *, public_key: str, issuer: str, audience: str, cache_size: int) -> None:
        self._public_key = public_key
        self._issuer = issuer
        self._audience = audience
        self._cache_size = cache_size
        # token -> (subject, exp as a UNIX timestamp); least recently used first.
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()

    @property
    def configured(self) -> bool:
        return bool(self._public_key)

    def cached_subject(self, token: str) -> str | None:
        """The subject of a token verified earlier and not expired since, else ``None``."""
        entry = self._cache.get(token)
        if entry is None:
            return None
        subject, expires = entry
        if time.time() >= expires:
            del self._cache[token]
            return None
        self._cache.move_to_end(token)
        return subject

    def verify(self, token: str) -> str:
        """The token's subject; raises ``ApiError(401)`` for an invalid or expired token."""
        subject = self.cached_subject(token)
        if subject is not None:
            return subject
        principal, expires = verify_with_expiry(
            token, public_key=self._public_key, issuer=self._issuer, audience=self._audience
        )
        subject = str(principal.user_id)
        if self._cache_size:
            self._cache[token] = (subject, expires)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return subject
