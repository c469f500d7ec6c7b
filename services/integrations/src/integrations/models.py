"""Every table of the service, imported in one place so the metadata is complete."""

from __future__ import annotations

from integrations.chat import models as chat_models  # noqa: F401
from integrations.db import Base
from integrations.mail import models as mail_models  # noqa: F401
from integrations.webhooks import models as webhooks_models  # noqa: F401

metadata = Base.metadata

__all__ = ["metadata"]
