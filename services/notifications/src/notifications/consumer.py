"""The consumer ``notifications``: ticket events notify, and so does a new file on a ticket
(``attachment.added``, its assignee); a scheduled report's document (``report.generated``) is
mailed to its recipients. (Identity's events keep the directory replica current in the
consumer ``notifications.directory``: helpdesk_common.directory.)"""

from __future__ import annotations

from helpdesk_common.consumer import Consumer
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.routing import attachments as attachment_handlers
from notifications.routing import handlers as routing_handlers
from notifications.routing import reports as report_handlers
from notifications.settings import NotificationsSettings

CONSUMER_NAME = "notifications"


def build_consumer(
    *, settings: NotificationsSettings, renderer: Renderer, handoff: Handoff | None = None
) -> Consumer:
    consumer = Consumer(name=CONSUMER_NAME, batch_size=settings.consumer_batch_size)
    routing_handlers.register(consumer, settings=settings, renderer=renderer, handoff=handoff)
    attachment_handlers.register(consumer, settings=settings, renderer=renderer, handoff=handoff)
    report_handlers.register(consumer, settings=settings, renderer=renderer, handoff=handoff)
    return consumer
