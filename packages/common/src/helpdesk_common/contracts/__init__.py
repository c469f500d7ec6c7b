"""Integration event contracts: defined once here, used by producers and consumers alike.

``CATALOGUE`` maps each routing key to its payload model; ``docs/events.md`` documents them
and ``tests/test_contract_schemas.py`` snapshot-checks their JSON schema, so a change that
is not additive is caught in review.
"""

from helpdesk_common.contracts.attachments import (
    AttachmentAdded,
    AttachmentQuarantined,
    AttachmentRemoved,
)
from helpdesk_common.contracts.envelope import EventEnvelope, EventPayload
from helpdesk_common.contracts.identity import (
    OrganisationUpdated,
    UnitCreated,
    UnitUpdated,
    UserCreated,
    UserDeactivated,
    UserSignInAttacked,
    UserUpdated,
)
from helpdesk_common.contracts.integrations import IntakeSenderRefused, WebhookDisabled
from helpdesk_common.contracts.reports import ReportGenerated
from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketEscalated,
    TicketReopened,
    TicketResolved,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketStatusChanged,
    TicketUpdated,
)

_MODELS: list[type[EventPayload]] = [
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserSignInAttacked,
    UnitCreated,
    UnitUpdated,
    OrganisationUpdated,
    TicketCreated,
    TicketAssigned,
    TicketStatusChanged,
    TicketCommented,
    TicketResolved,
    TicketClosed,
    TicketReopened,
    TicketSlaWarning,
    TicketSlaBreached,
    TicketEscalated,
    TicketUpdated,
    ReportGenerated,
    AttachmentAdded,
    AttachmentRemoved,
    AttachmentQuarantined,
    IntakeSenderRefused,
    WebhookDisabled,
]

CATALOGUE: dict[str, type[EventPayload]] = {model.event_type: model for model in _MODELS}


def parse_payload(envelope: EventEnvelope) -> EventPayload:
    """The typed payload of an envelope; raises ``KeyError`` / ``ValidationError``."""
    return CATALOGUE[envelope.event_type].model_validate(envelope.payload)


__all__ = ["CATALOGUE", "EventEnvelope", "EventPayload", "parse_payload"]
