"""The service's one consumer: identity events feed the directory, ticket events notify."""

from __future__ import annotations

from helpdesk_common.consumer import Consumer
from notifications.directory import handlers as directory_handlers
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.routing import handlers as routing_handlers
from notifications.settings import NotificationsSettings

CONSUMER_NAME = "notifications"


def build_consumer(
    *, settings: NotificationsSettings, renderer: Renderer, handoff: Handoff | None = None
) -> Consumer:
    consumer = Consumer(name=CONSUMER_NAME, batch_size=settings.consumer_batch_size)
    directory_handlers.register(consumer)
    routing_handlers.register(consumer, settings=settings, renderer=renderer, handoff=handoff)
    return consumer
