"""No password hash, token or secret-looking value reaches a log line (issue 13, item 3);
tests/test_security_e2e.py checks the logs of a whole system run through failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from helpdesk_common.db import create_engine
from helpdesk_common.observability import configure_logging, redact
from helpdesk_common.settings import ServiceSettings

HASH = "$argon2id$v=19$m=65536,t=3,p=4$T6vC7Ehs9FUpV8nx621wzQ$6TrHk+kQdODOBog9Cg51orBblXovlnv7Fk"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize(
    ("line", "kept", "gone"),
    [
        (f"INSERT ... parameters: ('budi', '{HASH}', True)", "parameters: ('budi', '", HASH),
        (f"token check failed for {JWT} (expired)", "token check failed for ", JWT),
        ("Authorization: Bearer 9XgT2hoCXxxpEFIcfm", "Authorization", "9XgT2hoCXxxpEFIcfm"),
        ('{"username": "budi", "password": "Rahasia-123"}', '"username": "budi"', "Rahasia-123"),
        ("{'refresh_token': 'q1w2e3r4t5', 'x': 1}", "'x': 1", "q1w2e3r4t5"),
        ('{"new_password": "dua kata"}', "new_password", "kata"),
        ('{"message": "body {\\"password\\": \\"dua kata\\"} x"}', "} x", "kata"),
        ("GET /stream?access_token=abc123def&x=1", "&x=1", "abc123def"),
        ("smtp_password=s3cr3t-Value host=mail", "host=mail", "s3cr3t-Value"),
        ("cannot connect to amqp://helpdesk:Pw-9x@rabbitmq:5672/", "@rabbitmq:5672/", "Pw-9x"),
        ("invalid input for query argument $2: 'Rahasia-123' (x)", "(x)", "Rahasia-123"),
        ("1 validation error input_value='Rahasia-123', input_type=str", "input_type", "Rahasia"),
    ],
)
def test_secrets_are_redacted(line: str, kept: str, gone: str) -> None:
    assert kept in redact(line) and gone not in redact(line)


def test_ordinary_lines_are_left_alone() -> None:
    for line in (
        "refresh token reused for user 42: revoking its session",
        "audit user.password_changed by 7f3c",
        "purged 12 expired refresh tokens",
    ):
        assert redact(line) == line


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    yield
    root.handlers[:], root.level = handlers, level
    for name, (kept, propagate) in uvicorn.items():
        logging.getLogger(name).handlers[:] = kept
        logging.getLogger(name).propagate = propagate


@pytest.mark.parametrize("json", [True, False])
def test_what_the_process_writes_is_redacted_tracebacks_and_uvicorn_included(
    capsys: pytest.CaptureFixture[str], restored_logging: None, json: bool
) -> None:
    # uvicorn's error logger has a handler of its own until the service configures logging.
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler())
    configure_logging(service="test", json=json)
    try:
        raise ValueError(f"insert failed: {HASH} with {JWT}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    logging.getLogger("helpdesk.test").warning("login body %s", {"password": "Rahasia-123"})
    written = capsys.readouterr()
    output = written.out + written.err
    assert "Exception in ASGI application" in output and "ValueError" in output
    assert "$argon2" not in output and JWT not in output and "Rahasia-123" not in output
    assert output.count("Exception in ASGI application") == 1  # once, through our handler


async def test_a_failed_statement_is_logged_without_its_parameters(
    make_settings, database_url
) -> None:
    engine = create_engine(make_settings(ServiceSettings, schema="redaction_test"))
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failed:
                await connection.execute(
                    sa.text("SELECT CAST(:secret AS integer)"), {"secret": HASH}
                )
    finally:
        await engine.dispose()
    text = str(failed.value)
    # SQLAlchemy leaves the statement's parameters out...
    assert "[parameters:" not in text and "hide_parameters" in text
    # ...but the driver quotes the offending value back (asyncpg: "invalid input for query
    # argument $1: '$argon2id$v=19$m=…'"): the log formatter's redaction is what removes it.
    assert "$argon2" in text
    assert "$argon2" not in redact(text)
