"""Unit tests: settings parsing, the token bucket, the verification cache."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from pydantic import ValidationError

from gateway.auth import TokenVerifier, bearer_token
from gateway.ratelimit import RateLimiter, retry_after_header
from gateway.settings import GatewaySettings
from helpdesk_common.errors import ApiError


def test_settings_from_environment(monkeypatch, tmp_path, keypair):
    key_file = tmp_path / "public.pem"
    key_file.write_text(keypair[1])
    monkeypatch.setenv("GATEWAY_TICKETS_URL", "http://tickets:8000/")
    monkeypatch.setenv("GATEWAY_REPORTS_URL", "")
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("GATEWAY_JWT_PUBLIC_KEY_FILE", str(key_file))
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_PER_SECOND", "1000")
    settings = GatewaySettings()
    assert settings.tickets_url == "http://tickets:8000"
    assert settings.reports_url is None
    assert settings.upstream_urls() == {"tickets": "http://tickets:8000"}
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.jwt_public_key == keypair[1]
    assert settings.rate_limit_per_second == 1000

    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["https://c.example"]')
    assert GatewaySettings().cors_origins == ["https://c.example"]


def test_settings_refuse_bad_values():
    with pytest.raises(ValidationError):
        GatewaySettings(tickets_url="tickets:8000")
    with pytest.raises(ValidationError, match="jwt_public_key"):
        GatewaySettings(environment="production", jwt_public_key="")


def test_token_bucket(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert not limiter.has_capacity("a")
    assert limiter.acquire("b") == 0.0  # separate bucket
    now[0] += 0.5
    assert limiter.has_capacity("a")
    assert limiter.acquire("a") == 0.0
    now[0] += 100
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0  # never more than the burst
    assert retry_after_header(0.2) == "1"
    assert retry_after_header(2.1) == "3"


def test_token_bucket_forgets_idle_clients(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    limiter = RateLimiter(rate=10, burst=10, sweep_threshold=100)
    for i in range(100):
        limiter.acquire(f"client-{i}")
    now[0] += 2  # every bucket is full again
    limiter.acquire("new")  # crossing the threshold sweeps
    assert len(limiter) == 1


def test_disabled_limiter():
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))
    assert len(limiter) == 0


def test_verifier_cache_is_bounded_and_keyed_by_token(keypair, make_token):
    verifier = TokenVerifier(
        public_key=keypair[1], issuer="helpdesk-identity", audience="helpdesk", cache_size=2
    )
    tokens = [make_token() for _ in range(3)]
    subjects = [verifier.verify(token) for token in tokens]
    assert len(set(subjects)) == 3
    assert verifier.cached_subject(tokens[0]) is None  # evicted, least recently used
    assert verifier.cached_subject(tokens[2]) == subjects[2]
    with pytest.raises(ApiError) as error:
        verifier.verify(make_token(ttl=timedelta(seconds=-1)))
    assert error.value.code == "token_expired"


def test_bearer_token_parsing():
    assert bearer_token([(b"authorization", b"Bearer abc")]) == "abc"
    assert bearer_token([(b"authorization", b"bearer  abc ")]) == "abc"
    assert bearer_token([(b"authorization", b"Basic abc")]) is None
    assert bearer_token([(b"authorization", b"Bearer")]) is None
    assert bearer_token([]) is None
