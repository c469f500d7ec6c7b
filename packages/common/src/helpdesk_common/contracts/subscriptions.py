"""Who consumes what: each consumer's queue and the event types bound to it, defined once.

Every service declares all of these queues and bindings when it connects to the broker (see
:func:`helpdesk_common.bus.declare_subscriber_queues`). An event published before its
consumer ever ran (the first administrator's ``user.created``, on a first start) then waits
in the consumer's queue instead of being dropped by the exchange for want of a binding.
A consumer refuses to start when its handlers differ from its entry here.
"""

from __future__ import annotations

_IDENTITY_EVENTS = (
    "user.created",
    "user.updated",
    "user.deactivated",
    "unit.created",
    "unit.updated",
    "organisation.updated",
)
_TICKET_EVENTS = (
    "ticket.created",
    "ticket.assigned",
    "ticket.status_changed",
    "ticket.commented",
    "ticket.resolved",
    "ticket.closed",
    "ticket.reopened",
    "ticket.sla_warning",
    "ticket.sla_breached",
    "ticket.escalated",
)
# Edits change what a copy of the ticket shows but concern no one to notify.
_TICKET_EDITS = ("ticket.updated",)
_ATTACHMENT_EVENTS = ("attachment.added", "attachment.removed", "attachment.quarantined")

# The services keeping a copy of identity's users and units (helpdesk_common.directory):
# each runs the consumer ``<service>.directory`` (helpdesk_common.directory.directory_consumer).
DIRECTORY_REPLICAS: tuple[str, ...] = (
    "tickets",
    "notifications",
    "reports",
    "attachments",
    "integrations",
)

# Consumer name (its queue is ``settings.queue_name(name)``) -> the event types it handles.
SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    # Ticket events, new files for the assignee, the scheduled reports' documents to mail,
    # sign-in attacks to tell the account's user and the administrators of, the answer to
    # an unknown mail sender, and disabled outbound webhooks for the administrators.
    "notifications": (
        *_TICKET_EVENTS,
        "attachment.added",
        "report.generated",
        "user.sign_in_attacked",
        "intake.sender_refused",
        "webhook.disabled",
    ),
    "reports": (*_TICKET_EVENTS, *_TICKET_EDITS),
    # The files on each ticket's timeline and submission form.
    "tickets.attachments": _ATTACHMENT_EVENTS,
    # Each ticket's unit and status: who may see its files, and whether it takes new ones.
    # Only the events that can change them: ``ticket.resolved``, ``closed`` and ``reopened``
    # come with a ``ticket.status_changed`` of the same snapshot, and a comment or the SLA
    # scheduler's events leave the ticket's version as it was (the copy ignores them).
    "attachments.tickets": (
        "ticket.created",
        "ticket.assigned",
        "ticket.status_changed",
        *_TICKET_EDITS,
    ),
    # What outbound webhooks may deliver (integrations.webhooks).
    "integrations.webhooks": (*_TICKET_EVENTS, *_TICKET_EDITS, *_ATTACHMENT_EVENTS),
    **{f"{service}.directory": _IDENTITY_EVENTS for service in DIRECTORY_REPLICAS},
}

# Event types a queue was once bound to and no longer is. RabbitMQ keeps a durable queue's
# bindings until told otherwise, so each start unbinds these from an installation's queue
# (unbinding what is not bound is no error). The consumer would only acknowledge them as
# ignored, but the broker would still route and deliver every one.
RETIRED_SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    # Until issue 16 it took every ticket event and edit.
    "attachments.tickets": tuple(
        event_type
        for event_type in (*_TICKET_EVENTS, *_TICKET_EDITS)
        if event_type not in SUBSCRIPTIONS["attachments.tickets"]
    ),
}
