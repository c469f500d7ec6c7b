"""Where the real PostgreSQL and RabbitMQ used by the tests are (``scripts/test`` starts them)."""

import os

PG_ADMIN_DSN = os.environ.get(
    "HELPDESK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("HELPDESK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
