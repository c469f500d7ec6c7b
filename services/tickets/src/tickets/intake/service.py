"""Tickets and comments from the intake channels (mail, chat), for the integrations
service's internal calls.

The rules are the web's where they can be: the ticket is made by the create's writing half
(``tickets.service.insert_created``: number, priority rules, SLA, first timeline line,
``ticket.created``), a comment by ``comment_on`` and ``store.save_comment``, a reopen by
``lifecycle.reopen``. What differs is who acts: the sender as the directory knows them,
or, for a sender nobody knows, the intake system (:data:`INTAKE_ACTOR_ID`, role
``system``) under the sender's name.

Every call runs in the caller's transaction, with its source key locked: the row in
``intake_sources`` is written with the ticket or comment, so a repeated key returns what
the first call made, and a second call with the same key waits for the first's commit.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from helpdesk_common.contracts.tickets import Actor
from helpdesk_common.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tickets.intake import store
from tickets.intake.schemas import IntakeCommentCreate, IntakeOut, IntakeTicketCreate
from tickets.runtime import TicketsRuntime
from tickets.tickets import lifecycle
from tickets.tickets import store as tickets_store
from tickets.tickets.changes import Change
from tickets.tickets.policy import TRANSITIONS
from tickets.tickets.queries import parse_ref
from tickets.tickets.schemas import TicketCreate
from tickets.tickets.service import check_category, comment_on, insert_created, rules_of
from tickets.tickets.store import Connection

# The creator of a ticket (and author of a comment) from a sender who is not a user: one
# fixed id, shown under the sender's name with the role "system".
INTAKE_ACTOR_ID = uuid.uuid5(uuid.NAMESPACE_URL, "helpdesk:intake")
SYSTEM_ROLE = "system"
# Statuses a reply cannot be added to: the caller makes a new ticket naming the old one.
FINAL_STATUSES = frozenset({"closed", "rejected"})
REOPEN_EXCERPT = 200


def of_source(found: store.Source) -> IntakeOut:
    return IntakeOut(
        ticket_id=found.ticket_id,
        number=found.number,
        status=found.status,
        created=False,
        comment_id=found.comment_id,
        reopened=found.reopened,
    )


async def create_ticket(
    connection: Connection, runtime: TicketsRuntime, *, data: IntakeTicketCreate, now: datetime
) -> IntakeOut:
    """A ticket from a mail or chat message, or what this source key made before
    (``created`` false). The caller holds a transaction and wakes the relays after it."""
    await store.lock_source(connection, data.source_key)
    found = await store.find_source(connection, data.source_key)
    if found is not None:
        return of_source(found)
    master = await runtime.masterdata.get_fresh_if_missing(
        category_id=data.category_id, priority=None
    )
    check_category(master, data.category_id)
    contact_name = data.contact_name
    if data.requester_id is not None:
        member = await store.active_member(connection, data.requester_id)
        if member is None:
            raise InvalidInput(
                "unknown_requester", "Unknown or inactive user", field="requester_id"
            )
        actor = Actor(user_id=member.user_id, name=member.name, role=member.role)
        if member.role == "requester":
            # A requester's ticket is for their own unit (the channel's unit if they have none).
            unit_id = member.unit_id or data.unit_id
            requester: tuple[uuid.UUID | None, str | None] = (member.user_id, member.name)
        else:
            # Staff: the channel's unit; they are its requester if they belong to it.
            unit_id = data.unit_id
            requester = (member.user_id, member.name) if member.unit_id == unit_id else (None, None)
            contact_name = contact_name or member.name
    else:
        actor = Actor(user_id=INTAKE_ACTOR_ID, name=data.sender_name, role=SYSTEM_ROLE)
        unit_id = data.unit_id
        requester = (None, None)
    ticket_data = TicketCreate(
        title=data.title,
        description=data.description,
        category_id=data.category_id,
        unit_id=unit_id,
        contact_name=contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        channel=data.channel,
    )
    priority = master.choose_priority(
        title=data.title,
        description=data.description,
        unit_id=unit_id,
        category_id=data.category_id,
    )
    loaded = await insert_created(
        connection,
        runtime,
        data=ticket_data,
        master=master,
        actor=actor,
        unit_id=unit_id,
        priority=priority,
        requester=requester,
        now=now,
    )
    ticket = loaded.ticket
    await store.insert_source(
        connection, data.source_key, ticket_id=ticket.id, comment_id=None, reopened=False, now=now
    )
    return IntakeOut(ticket_id=ticket.id, number=ticket.number, status=ticket.status, created=True)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def contact_matches(contact: str | None, *, email: str | None, phone: str | None) -> bool:
    """Whether a sender's address or number is the ticket's contact (e-mail addresses in
    any case, phone numbers by their digits)."""
    if not contact or not contact.strip():
        return False
    given = contact.strip()
    if "@" in given:
        return email is not None and given.casefold() == email.strip().casefold()
    digits = _digits(given)
    return bool(digits) and phone is not None and digits == _digits(phone)


async def add_comment(
    connection: Connection, runtime: TicketsRuntime, *, data: IntakeCommentCreate, now: datetime
) -> IntakeOut:
    """A public comment from a reply by mail or chat (the resolved ticket reopened first
    when ``TICKETS_REOPEN_ON_REPLY``), or what this source key made before. 404
    ``ticket_not_found``, 409 ``ticket_closed`` (closed or rejected: the caller opens a
    new ticket naming it), 403 ``not_a_participant``. The caller holds a transaction."""
    await store.lock_source(connection, data.source_key)
    found = await store.find_source(connection, data.source_key)
    if found is not None:
        return of_source(found)
    try:
        key = parse_ref(data.ticket_ref)
    except InvalidInput as exc:
        raise InvalidInput(exc.code, exc.message, field="ticket_ref") from None
    read = await tickets_store.read_ticket(connection, key, unit_id=None, lock=True)
    if read is None:
        raise NotFound("ticket_not_found", "Ticket not found")
    loaded, _ = read
    ticket = loaded.ticket
    actor = await _author(
        connection,
        runtime,
        data=data,
        unit_id=ticket.unit_id,
        email=ticket.contact_email,
        phone=ticket.contact_phone,
    )
    if ticket.status in FINAL_STATUSES:
        raise Conflict(
            "ticket_closed",
            f"Ticket {ticket.number} is {ticket.status}: open a new ticket that names it",
            extra={"number": ticket.number, "ticket_id": str(ticket.id)},
        )
    master = await runtime.masterdata.get()
    rules = rules_of(runtime, master)
    reopened = False
    if ticket.status == "resolved" and runtime.settings.reopen_on_reply:
        change = Change(
            rules=rules,
            loaded=loaded,
            actor=actor,
            now=now,
            action="reopen",
            target=TRANSITIONS[("resolved", "reopen")],
        )
        excerpt = " ".join(data.body.split())[:REOPEN_EXCERPT]
        lifecycle.reopen(change, reason=f"Dibuka kembali oleh balasan: {excerpt}")
        await tickets_store.save_change(
            connection,
            ticket,
            row_version=None,
            lines=change.lines,
            events=change.events,
            producer=runtime.producer,
        )
        reopened = True
    comment, line, event = comment_on(
        loaded,
        actor=actor,
        body=data.body,
        internal=False,
        now=now,
        master=master,
        web_base_url=runtime.settings.web_base_url,
    )
    await tickets_store.save_comment(
        connection,
        ticket,
        comment,
        row_version=None,
        lines=[line],
        events=[event],
        producer=runtime.producer,
    )
    await store.insert_source(
        connection,
        data.source_key,
        ticket_id=ticket.id,
        comment_id=comment.id,
        reopened=reopened,
        now=now,
    )
    return IntakeOut(
        ticket_id=ticket.id,
        number=ticket.number,
        status=ticket.status,
        created=True,
        comment_id=comment.id,
        reopened=reopened,
    )


async def _author(
    connection: Connection,
    runtime: TicketsRuntime,
    *,
    data: IntakeCommentCreate,
    unit_id: uuid.UUID,
    email: str | None,
    phone: str | None,
) -> Actor:
    """Who writes the comment: a user who may see the ticket and comment on it, or a
    sender whose address or number is the ticket's contact (403 ``not_a_participant``)."""
    if data.author_id is None:
        if not contact_matches(data.contact, email=email, phone=phone):
            raise PermissionDenied(
                "not_a_participant",
                "The sender is neither a user who may see the ticket nor its contact",
                field="contact",
            )
        return Actor(user_id=INTAKE_ACTOR_ID, name=data.author_name, role=SYSTEM_ROLE)
    member = await store.active_member(connection, data.author_id)
    if member is None:
        raise InvalidInput("unknown_author", "Unknown or inactive user", field="author_id")
    if member.role == "requester" and member.unit_id != unit_id:
        raise PermissionDenied(
            "not_a_participant",
            "The sender may not see the ticket (another unit's)",
            field="author_id",
        )
    if not runtime.policy.may(member.role, "comment"):
        raise PermissionDenied(
            "not_a_participant",
            f"Role '{member.role}' may not comment on tickets",
            field="author_id",
        )
    return Actor(user_id=member.user_id, name=member.name, role=member.role)
