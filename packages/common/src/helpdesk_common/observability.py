"""JSON logs with the correlation id, Prometheus metrics, and the request middleware."""

from __future__ import annotations

import logging
import re
import sys

from fastapi.telemetry import TelemetryConfig
from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from starlette.types import Scope

from helpdesk_common.context import (
    REQUEST_ID_HEADER,
    current_correlation_id,
)

log = logging.getLogger("helpdesk.http")

# FastAPI's native OpenTelemetry off (every service's app and the gateway's): the platform's
# metrics are Prometheus' below, and with it on FastAPI asks on every request whether a
# tracer, meter or logger provider is configured.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests handled", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events published to the bus", ["event_type"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Events taken from the bus, by outcome (processed, duplicate, ignored)",
    ["consumer", "event_type", "outcome"],
)
EVENTS_FAILED = Counter(
    "events_failed_total", "Event handling attempts that raised", ["consumer", "event_type"]
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events parked in a dead-letter queue", ["consumer", "event_type"]
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published")
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published (0 when none)"
)
OUTBOX_RELAY_ERRORS = Counter("outbox_relay_errors_total", "Failed outbox relay rounds")
# Sampled from the broker by every consuming replica (helpdesk_common.queue_depths): the
# consumer lag and the parked messages an operator must see without opening RabbitMQ's UI.
BUS_QUEUE_MESSAGES = Gauge(
    "bus_queue_messages", "Messages ready in a consumer's queue (its lag)", ["queue"]
)
BUS_QUEUE_CONSUMERS = Gauge(
    "bus_queue_consumers", "Consumers attached to a consumer's queue", ["queue"]
)
BUS_RETRY_MESSAGES = Gauge(
    "bus_retry_messages", "Messages waiting in a consumer's retry queues", ["queue"]
)
BUS_DEAD_LETTER_MESSAGES = Gauge(
    "bus_dead_letter_messages", "Messages parked in a consumer's dead-letter queue", ["queue"]
)


# What must never reach a log line, whatever logs it (an exception's text with a statement's
# parameters, a library's debug output, a message quoting a request): replaced as the line is
# written. The database engines also hide statement parameters (helpdesk_common.db); this is
# the net under everything else.
_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # argon2 password hashes: $argon2id$v=19$m=65536,t=3,p=4$salt$hash
    (re.compile(r"\$argon2[a-z]{0,2}\$[A-Za-z0-9+/=$,.]+"), "[redacted hash]"),
    # JWTs (access tokens): three base64url parts, the first a JSON object.
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted token]"),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), r"\1\2[redacted]"),
    # name=value / "name": "value" for secret-looking names (query strings, dicts, JSON).
    # A quoted value is taken whole (also JSON-escaped inside a JSON log line).
    (
        re.compile(
            r"(?i)(\b[a-z_]*(?:password|passwd|secret|token|api_key|apikey|authorization)"
            r"[a-z_]*\\?[\"']?\s*[:=]\s*)(?!\[redacted)"
            r"(\\?\"(?:[^\"\\]|\\[^\"])*\\?\"|'(?:[^'\\]|\\.)*'|[^\s\"'&,;)}\]\\]+)"
        ),
        r"\1[redacted]",
    ),
    # The password in a connection URL (postgresql://user:secret@host, amqp://…).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@]+:)[^@\s/]+@"), r"\1[redacted]@"),
    # A value asyncpg or pydantic quotes back in an error message.
    (
        re.compile(
            r"(query argument \$\d+: |input_value=)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)"
        ),
        r"\1[redacted]",
    ),
)


def redact(text: str) -> str:
    """``text`` without password hashes, tokens and secret-looking values."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner`` (plain or JSON), then redacts the whole line, the exception's
    traceback and every extra field included."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = current_correlation_id()
        # uvicorn's copy of its message with terminal colours: noise in a JSON line.
        record.__dict__.pop("color_message", None)
        return True


def configure_logging(*, service: str, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stdout)
    inner: logging.Formatter
    if json:
        inner = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    else:
        inner = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
        )
    handler.setFormatter(RedactingFormatter(inner))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's loggers have handlers of their own (its "Exception in ASGI application"
    # carries the whole traceback): through ours instead, so that they are redacted too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for noisy in ("aiormq", "aio_pika", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/tickets/{ticket_id}``): the metrics' label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path or "unmatched"


# Probes and scrapes: not counted as requests.
UNMEASURED_ROUTES = frozenset({"/metrics", "/health/live", "/health/ready"})


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()


def request_id_of(scope: Scope) -> str | None:
    """A client-supplied request id, if it is short and printable (it ends up in logs)."""
    for key, value in scope.get("headers", []):
        if key == _REQUEST_ID_KEY:
            decoded = value.decode("latin-1")[:128]
            return decoded if decoded.isprintable() else None
    return None
