"""One mail of a mailbox, from its bytes to a ticket, a comment or a logged refusal.

Order (exactly once without a distributed transaction):
1. a mail whose dedupe key (Message-ID, or a hash of its bytes) is in the log was done: the
   caller only marks it in IMAP (a crash between commit and marking);
2. the ticket or comment is made through the tickets service with the source key
   ``mail:<mailbox id>:<dedupe key>``, then each file with ``<source key>:<part>``: both
   services keep the key, so a repeat after a crash returns what the first call made;
3. the log row (and an ``intake.sender_refused`` event, via the outbox) commit together;
4. only then the caller marks the mail processed in IMAP.
"""

from __future__ import annotations

import email.utils
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from helpdesk_common.contracts.integrations import IntakeSenderRefused
from helpdesk_common.directory import DirectoryUser
from helpdesk_common.outbox import add_event
from integrations.intake import attachments_api, tickets_api
from integrations.intake.tickets_api import (
    IntakeRefused,
    Made,
    TicketClosed,
    shape_description,
    shape_title,
)
from integrations.mail import service
from integrations.mail.parsing import ParsedMail, dedupe_key, parse_mail, trim_quoted
from integrations.runtime import IntegrationsRuntime

log = logging.getLogger("integrations.mail")

MESSAGES = Counter("integrations_mail_messages", "Mails processed, by outcome", ["outcome"])


@dataclass(frozen=True)
class MailboxConfig:
    """What processing needs of a mailbox, read at the start of each poll."""

    id: uuid.UUID
    name: str
    default_unit_id: uuid.UUID
    default_category_id: uuid.UUID
    unknown_senders: str


@dataclass
class Result:
    outcome: str  # ticket | comment | ignored | refused | throttled | failed | duplicate
    reason: str | None = None
    made: Made | None = None


def source_key(mailbox_id: uuid.UUID, key: str) -> str:
    return f"mail:{mailbox_id}:{key}"


def _display(parsed: ParsedMail) -> str:
    address = parsed.from_address or ""
    if parsed.from_name:
        return email.utils.formataddr((parsed.from_name, address))
    return address


async def process(runtime: IntegrationsRuntime, mailbox: MailboxConfig, raw: bytes) -> Result:
    """Process one mail (raises TicketsUnavailable / AttachmentsUnavailable: try again later,
    nothing recorded)."""
    settings = runtime.settings
    parsed = parse_mail(raw, own_addresses=frozenset(settings.mail_own_addresses))
    key = dedupe_key(parsed, raw)
    source = source_key(mailbox.id, key)
    async with runtime.sessionmaker() as session, session.begin():
        if await service.known_key(session, mailbox_id=mailbox.id, key=key):
            return Result("duplicate")
        user: DirectoryUser | None = None
        thread_ref: str | None = None
        recent = 0
        if parsed.automatic is None and parsed.from_address:
            user = await service.user_by_address(session, address=parsed.from_address)
            recent = await service.recent_from(
                session,
                mailbox_id=mailbox.id,
                address=parsed.from_address,
                minutes=settings.mail_throttle_minutes,
            )
            tickets = parsed.thread_ticket_ids
            if tickets:
                thread_ref = str(tickets[0])
            else:
                thread_ref = (
                    await service.ticket_of_thread(
                        session, mailbox_id=mailbox.id, message_ids=parsed.thread_ids
                    )
                    or parsed.subject_ticket_number
                )

    result = await _decide(
        runtime, mailbox, parsed, source, user=user, thread_ref=thread_ref, recent=recent
    )
    stored = refused = 0
    if result.made is not None and parsed.files:
        stored, refused = await _attach(runtime, parsed, source, result.made, user)

    async with runtime.sessionmaker() as session, session.begin():
        values: dict[str, Any] = {
            "mailbox_id": mailbox.id,
            "dedupe_key": key,
            "message_id": parsed.message_id,
            "from_address": parsed.from_address,
            "from_name": parsed.from_name,
            "subject": parsed.subject,
            "received_at": parsed.date,
            "processed_at": datetime.now(UTC),
            "outcome": result.outcome,
            "reason": result.reason,
            "ticket_id": result.made.ticket_id if result.made else None,
            "ticket_number": result.made.number if result.made else None,
            "attachments_stored": stored,
            "attachments_refused": refused,
        }
        recorded = await service.record_message(session, values=values)
        if not recorded:
            return Result("duplicate")
        if result.outcome == "refused" and parsed.from_address:
            answer = await service.claim_refusal(
                session,
                mailbox_id=mailbox.id,
                address=parsed.from_address,
                quiet_days=settings.mail_refusal_quiet_days,
            )
            if answer:
                await add_event(
                    session,
                    IntakeSenderRefused(
                        mailbox_id=mailbox.id,
                        mailbox_name=mailbox.name,
                        address=parsed.from_address,
                        display_name=parsed.from_name,
                        subject=parsed.subject[:500] or "(tanpa subjek)",
                        message_id=parsed.message_id,
                        refused_at=datetime.now(UTC),
                    ),
                    producer=settings.service_name,
                )
    MESSAGES.labels(result.outcome).inc()
    return result


async def _decide(
    runtime: IntegrationsRuntime,
    mailbox: MailboxConfig,
    parsed: ParsedMail,
    source: str,
    *,
    user: DirectoryUser | None,
    thread_ref: str | None,
    recent: int,
) -> Result:
    settings = runtime.settings
    if parsed.automatic is not None:
        return Result("ignored", parsed.automatic)
    if parsed.from_address is None:
        return Result("ignored", "null_sender")
    if recent >= settings.mail_throttle_count:
        return Result(
            "throttled",
            f"more than {settings.mail_throttle_count} mails in"
            f" {settings.mail_throttle_minutes} minutes from this sender",
        )
    name = (user.full_name if user else None) or parsed.from_name or parsed.from_address
    closed_number: str | None = None
    if thread_ref is not None:
        body = trim_quoted(parsed.text)
        try:
            made = await tickets_api.add_comment(
                runtime,
                source_key=source,
                ticket_ref=thread_ref,
                author_id=user.id if user else None,
                author_name=name,
                contact=parsed.from_address,
                body=shape_description(body),
            )
            return Result("comment", "reopened" if made.reopened else None, made)
        except TicketClosed as closed:
            closed_number = closed.number or thread_ref
        except IntakeRefused as refused:
            if refused.code not in {"ticket_not_found", "not_a_participant"}:
                return Result("failed", f"{refused.code}: {refused.message}"[:500])
            # Not a reply the ticket takes: read as a new request below.
    if user is None and mailbox.unknown_senders == "reply_once":
        return Result("refused", "unknown_sender")
    description = parsed.text
    if closed_number:
        description = (
            f"Lanjutan dari tiket {closed_number} yang sudah ditutup"
            f" (follow-up to closed ticket {closed_number}).\n\n{trim_quoted(parsed.text)}"
        )
    try:
        made = await tickets_api.create_ticket(
            runtime,
            source_key=source,
            channel="email",
            requester_id=user.id if user else None,
            unit_id=mailbox.default_unit_id,
            category_id=mailbox.default_category_id,
            title=shape_title(parsed.subject),
            description=shape_description(description),
            sender_name=_display(parsed)[:200] or name,
            contact_name=None if user else (parsed.from_name or None),
            contact_email=None if user else parsed.from_address,
        )
    except IntakeRefused as refused:
        return Result("failed", f"{refused.code}: {refused.message}"[:500])
    reason = f"follow-up of closed {closed_number}" if closed_number else None
    if user is None:
        reason = "unknown_sender" + (f"; {reason}" if reason else "")
    return Result("ticket", reason, made)


async def _attach(
    runtime: IntegrationsRuntime,
    parsed: ParsedMail,
    source: str,
    made: Made,
    user: DirectoryUser | None,
) -> tuple[int, int]:
    stored = refused = 0
    uploader = (user.full_name if user else None) or parsed.from_name or parsed.from_address or "?"
    for index, part in enumerate(parsed.files):
        attached = await attachments_api.attach_file(
            runtime,
            source_key=f"{source}:{index}",
            ticket_id=made.ticket_id,
            filename=part.filename,
            content=part.content,
            media_type=part.media_type,
            uploaded_by=user.id if user else None,
            uploaded_by_name=uploader,
        )
        if attached.ok:
            stored += 1
        else:
            refused += 1
            log.info(
                "mail file not stored",
                extra={"ticket_id": str(made.ticket_id), "code": attached.code},
            )
    return stored, refused
