"""Test-only helpers shared by every test suite; a dev dependency, never in a service image.

The fixtures (``make_settings``, ``make_token``, ``database_url``, ...) come from the pytest
plugin :mod:`helpdesk_testing.plugin`, loaded with ``-p helpdesk_testing.plugin`` (see the root
``pyproject.toml``). The helpers below are imported by tests::

    from helpdesk_testing import app_client, eventually
"""

from helpdesk_testing.env import AMQP_URL, PG_ADMIN_DSN
from helpdesk_testing.events import event_tap, sample_unit_created
from helpdesk_testing.net import TcpProxy, app_client, free_port, serve_http
from helpdesk_testing.polling import eventually
from helpdesk_testing.system import LocalSystem, local_system

__all__ = [
    "AMQP_URL",
    "PG_ADMIN_DSN",
    "LocalSystem",
    "TcpProxy",
    "app_client",
    "event_tap",
    "eventually",
    "free_port",
    "local_system",
    "sample_unit_created",
    "serve_http",
]
