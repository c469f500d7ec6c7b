"""Events published by the reports service (``report.*``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from helpdesk_common.contracts.envelope import EventPayload
from helpdesk_common.contracts.identity import Language


class ReportRecipient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    email: str
    name: str | None = None
    user_id: uuid.UUID | None = None
    language: Language = "id"


class ReportGenerated(EventPayload):
    """A scheduled report's run produced its document, to be mailed to the recipients (the
    notifications service sends it, once per recipient, as an attachment). One event per
    subscription and period: ``run_id`` is unique for that pair."""

    event_type: ClassVar[str] = "report.generated"
    run_id: uuid.UUID
    subscription_id: uuid.UUID
    subscription_name: str
    report: str
    cadence: Literal["weekly", "monthly"]
    period_from: date
    period_to: date
    language: Language = "id"
    recipients: list[ReportRecipient]
    filename: str
    media_type: str = "application/pdf"
    # The document itself (a few hundred KB at most): the mail can be sent without calling
    # back into the reports service.
    content_base64: str
    generated_at: datetime
