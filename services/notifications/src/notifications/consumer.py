"""The consumer ``notifications``: ticket events notify, and so does a new file on a ticket
(``attachment.added``, its assignee); a scheduled report's document (``report.generated``) is
mailed to its recipients; a sign-in attack on an account (``user.sign_in_attacked``) is told
in the app to its user and the administrators; the intake channels' refusal of an unknown
sender (``intake.sender_refused``) is answered by one mail to that address, and a disabled
outbound webhook (``webhook.disabled``) told to the administrators (routing.intake).
(Identity's events keep the directory
replica current in the consumer ``notifications.directory``: helpdesk_common.directory.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.consumer import Consumer, Handler
from helpdesk_common.contracts import EventEnvelope, EventPayload
from helpdesk_common.contracts.attachments import AttachmentAdded
from helpdesk_common.contracts.identity import UserSignInAttacked
from helpdesk_common.contracts.integrations import IntakeSenderRefused, WebhookDisabled
from helpdesk_common.contracts.reports import ReportGenerated
from helpdesk_common.contracts.tickets import TicketEvent
from notifications.email.rendering import Renderer
from notifications.email.service import Handoff
from notifications.routing import attachments as attachment_handlers
from notifications.routing import handlers as routing_handlers
from notifications.routing import intake as intake_handlers
from notifications.routing import reports as report_handlers
from notifications.routing import security as security_handlers
from notifications.settings import NotificationsSettings

CONSUMER_NAME = "notifications"

# Plans what an event asks for (mails, in-app notices) in the consumer's transaction.
Notify = Callable[..., Awaitable[None]]
# Each route: the event types, their payload model, the function that plans them.
ROUTES: Sequence[tuple[Sequence[str], type[EventPayload], Notify]] = (
    (tuple(routing_handlers.KIND_BY_EVENT), TicketEvent, routing_handlers.notify_ticket_event),
    ((AttachmentAdded.event_type,), AttachmentAdded, attachment_handlers.notify_attachment_added),
    ((ReportGenerated.event_type,), ReportGenerated, report_handlers.mail_report),
    (
        (UserSignInAttacked.event_type,),
        UserSignInAttacked,
        security_handlers.notify_sign_in_attacked,
    ),
    (
        (IntakeSenderRefused.event_type,),
        IntakeSenderRefused,
        intake_handlers.notify_sender_refused,
    ),
    ((WebhookDisabled.event_type,), WebhookDisabled, intake_handlers.notify_webhook_disabled),
)


def _handler(
    model: type[EventPayload],
    notify: Notify,
    *,
    settings: NotificationsSettings,
    renderer: Renderer,
    handoff: Handoff | None,
) -> Handler:
    async def handle(session: AsyncSession, envelope: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, model)
        await notify(
            session,
            envelope=envelope,
            payload=payload,
            settings=settings,
            renderer=renderer,
            handoff=handoff,
        )

    return handle


def build_consumer(
    *, settings: NotificationsSettings, renderer: Renderer, handoff: Handoff | None = None
) -> Consumer:
    async def flush(session: AsyncSession) -> None:
        # The ticket events of the transaction (a batch, or one), planned together.
        await routing_handlers.flush_ticket_events(
            session, settings=settings, renderer=renderer, handoff=handoff
        )

    consumer = Consumer(
        name=CONSUMER_NAME,
        batch_size=settings.consumer_batch_size,
        flush=flush,
        linger=settings.consumer_linger_seconds,
    )
    for event_types, model, notify in ROUTES:
        handle = _handler(model, notify, settings=settings, renderer=renderer, handoff=handoff)
        for event_type in event_types:
            consumer.on(event_type)(handle)
    return consumer
