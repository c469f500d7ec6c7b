"""Who hears what, decided from the event's ticket snapshot and the local directory.

| event                  | recipients                                                       |
|------------------------|------------------------------------------------------------------|
| ticket.created         | requester, unit contact, active agents or the triage group (below) |
| ticket.assigned        | the new assignee                                                 |
| ticket.status_changed  | requester, unit contact (not for resolved / closed: see below)   |
| ticket.resolved        | requester, unit contact (with the result summary)                |
| ticket.closed          | requester, unit contact                                          |
| ticket.reopened        | assignee                                                         |
| ticket.commented       | assignee; requester too if the comment is public                 |
| ticket.sla_warning     | assignee                                                         |
| ticket.sla_breached    | assignee, users with a role in ``sla_breach_roles``              |
| ticket.escalated       | assignee, users with a role in the event's ``escalated_to_roles``|
| attachment.added       | assignee (not when they uploaded the file themselves)            |

``ticket.status_changed`` accompanies every transition; for resolved and closed the specific
event carries more (the result summary, automatic closing), so the generic one stays silent
and nobody gets two mails for one transition. The actor is left out (``notify_actor``),
except that a requester who creates a ticket still gets the e-mail receipt with its number
(no in-app notice of their own action). Inactive users are left out, and an address gets at
most one mail per event.

A new ticket reaches every active agent, or, when an administrator set a triage group
(``notifications.triage``), the members on duty when it was created (all members when none
is; every agent when no member is left). Each user's preferences
(``notifications.preferences``) then decide the channels: in-app on or off, e-mail instant,
in the daily digest, or off. The requester's receipt of a new ticket and a unit contact's
mail do not depend on them. Whatever is for the user personally (``addressed``: they hold
or requested the ticket) is marked so, apart from broadcasts to a group.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from helpdesk_common.contracts.attachments import AttachmentAdded
from helpdesk_common.contracts.identity import INTERNAL_ROLES
from helpdesk_common.contracts.tickets import (
    TicketAssigned,
    TicketCommented,
    TicketEscalated,
    TicketEvent,
    TicketStatusChanged,
)
from helpdesk_common.directory import KnownUnit, KnownUser, directory_excerpt, directory_rows
from notifications.preferences.service import DEFAULT_CHOICE, Choice, EmailMode, choices_of
from notifications.settings import NotificationsSettings
from notifications.triage.service import Triage, load_triage, new_ticket_staff, office_zone

log = logging.getLogger("notifications.routing")

UNKNOWN_RECIPIENTS = Counter(
    "notifications_unknown_recipients_total",
    "Recipients missing from the local directory (no e-mail address known, in-app only)",
)


@dataclass(frozen=True)
class Recipient:
    # requester, unit_contact, assignee, agent, supervisor: templates word the mail by it.
    reason: str
    name: str
    language: str
    email: str | None  # None: in-app only
    user_id: uuid.UUID | None  # None: e-mail only (a unit's contact address)
    in_app: bool = True
    # How ``email`` gets its mail: at once, or in the daily digest.
    email_mode: EmailMode = "instant"

    @property
    def addressed(self) -> bool:
        """For them personally (their ticket), not a broadcast to a group."""
        return self.reason in PERSONAL_REASONS


# The reasons that make a notification the user's own business.
PERSONAL_REASONS = frozenset({"requester", "assignee"})

# The preference (``notifications.preferences``) each event type is chosen by.
PREFERENCE_OF_EVENT = {
    "ticket.created": "created",
    "ticket.assigned": "assigned",
    "ticket.status_changed": "status_changed",
    "ticket.commented": "commented",
    "ticket.resolved": "resolved",
    "ticket.closed": "closed",
    "ticket.reopened": "reopened",
    "ticket.sla_warning": "sla_warning",
    "ticket.sla_breached": "sla_breached",
    "ticket.escalated": "escalated",
    "attachment.added": "attachment_added",
}


@dataclass(frozen=True)
class _Audience:
    requester_side: bool = False
    requester_only: bool = False
    assignee: bool = False
    agents: bool = False
    roles: frozenset[str] = frozenset()


def _audience(payload: TicketEvent, settings: NotificationsSettings) -> _Audience:
    match payload.event_type:
        case "ticket.created":
            return _Audience(requester_side=True, agents=settings.notify_agents_on_created)
        case "ticket.assigned":
            return _Audience(assignee=True)
        case "ticket.status_changed":
            assert isinstance(payload, TicketStatusChanged)
            if payload.to_status in ("resolved", "closed"):
                return _Audience()
            return _Audience(requester_side=True)
        case "ticket.resolved" | "ticket.closed":
            return _Audience(requester_side=True)
        case "ticket.reopened" | "ticket.sla_warning":
            return _Audience(assignee=True)
        case "ticket.commented":
            assert isinstance(payload, TicketCommented)
            return _Audience(assignee=True, requester_only=not payload.internal)
        case "ticket.sla_breached":
            return _Audience(assignee=True, roles=frozenset(settings.sla_breach_roles))
        case "ticket.escalated":
            assert isinstance(payload, TicketEscalated)
            return _Audience(assignee=True, roles=frozenset(payload.escalated_to_roles))
    return _Audience()


def _from_user(
    reason: str, user_id: uuid.UUID, known: KnownUser | None, fallback_name: str | None
) -> Recipient | None:
    if known is None:
        # Not (yet) in the local copy: in-app still works, e-mail needs an address.
        UNKNOWN_RECIPIENTS.inc()
        log.info("user %s is not in the directory; in-app notification only", user_id)
        return Recipient(reason, fallback_name or "", "id", None, user_id)
    if not known.is_active:
        return None
    return Recipient(reason, known.full_name, known.language, known.email, user_id)


@dataclass(frozen=True)
class _Directory:
    """The users and units a batch of events may concern, as the local directory knows them."""

    users: dict[uuid.UUID, KnownUser]
    units: dict[uuid.UUID, KnownUnit]


async def _load_directory(
    session: AsyncSession,
    *,
    user_ids: set[uuid.UUID],
    roles: set[str],
    unit_ids: set[uuid.UUID],
) -> _Directory:
    """What a whole batch of events concerns, in one statement."""
    users, units = await directory_rows(session, user_ids=user_ids, roles=roles, unit_ids=unit_ids)
    return _Directory(users=users, units=units)


@dataclass(frozen=True)
class _Planning:
    """One event of a batch being planned: who it is for, before the directory is read."""

    payload: TicketEvent
    at: datetime | None
    audience: _Audience
    triage: Triage | None  # read only for the events that reach the new-ticket staff

    @property
    def assignee_id(self) -> uuid.UUID | None:
        payload = self.payload
        if isinstance(payload, TicketAssigned):
            return payload.assignee_id
        return payload.ticket.assignee_id

    @property
    def wants_requester(self) -> bool:
        return self.audience.requester_side or self.audience.requester_only

    def wanted(self) -> tuple[set[uuid.UUID], set[str]]:
        """The users (by id) and the roles (every active holder) the event may need."""
        audience, ticket = self.audience, self.payload.ticket
        ids = {self.payload.actor.user_id}
        if self.wants_requester:
            ids.add(ticket.requester_id)
        if audience.assignee:
            ids.add(self.assignee_id)
        roles = set(audience.roles)
        if self.triage is not None and self.triage.mode == "triage_group":
            ids.update(self.triage.member_ids)
        elif audience.agents:
            roles.add("agent")
        return {i for i in ids if i is not None}, roles


async def plan_recipients_of(
    session: AsyncSession,
    *,
    events: Sequence[tuple[TicketEvent, datetime | None]],
    settings: NotificationsSettings,
) -> list[list[Recipient]]:
    """The recipients of each of ``events`` (a ticket event, and when it happened: a triage
    member's duty hours are checked against it, default now), exactly as one by one, but
    read for all of them at once: the triage setting, the directory and the preferences, a
    statement each (the cost of an event is then mostly its rendering)."""
    audiences = [_audience(payload, settings) for payload, _ in events]
    # Read per batch, never cached: an administrator's change applies to the next batch.
    triage = await load_triage(session) if any(a.agents for a in audiences) else None
    plans = [
        _Planning(payload, at, audience, triage if audience.agents else None)
        for (payload, at), audience in zip(events, audiences, strict=True)
    ]
    user_ids: set[uuid.UUID] = set()
    roles: set[str] = set()
    for plan in plans:
        ids, wanted_roles = plan.wanted()
        user_ids |= ids
        roles |= wanted_roles
    unit_ids = {plan.payload.ticket.unit_id for plan in plans if plan.audience.requester_side}
    # Everything the batch may need from the directory, in one round trip. A user read for
    # another event changes nothing: each event looks up its own users and roles in it.
    directory = await _load_directory(session, user_ids=user_ids, roles=roles, unit_ids=unit_ids)
    candidates = [
        await _candidates(session, plan, directory=directory, settings=settings) for plan in plans
    ]
    choices = await choices_of(
        session,
        user_ids={c.user_id for found in candidates for c in found if c.user_id is not None},
        events={PREFERENCE_OF_EVENT[payload.event_type] for payload, _ in events},
    )
    return [
        _select(plan.payload, found, directory=directory, choices=choices, settings=settings)
        for plan, found in zip(plans, candidates, strict=True)
    ]


async def _candidates(
    session: AsyncSession,
    plan: _Planning,
    *,
    directory: _Directory,
    settings: NotificationsSettings,
) -> list[Recipient]:
    """Everyone the event's audience names, before the actor, duplicates and choices."""
    payload, audience, ticket = plan.payload, plan.audience, plan.payload.ticket
    users = directory.users
    candidates: list[Recipient | None] = []
    if plan.wants_requester and ticket.requester_id is not None:
        candidates.append(
            _from_user(
                "requester",
                ticket.requester_id,
                users.get(ticket.requester_id),
                ticket.requester_name,
            )
        )
    if audience.requester_side:
        unit = directory.units.get(ticket.unit_id)
        if unit is not None and unit.is_active and unit.contact_email:
            candidates.append(
                Recipient(
                    "unit_contact", unit.contact_name or unit.name, "id", unit.contact_email, None
                )
            )
    assignee_id = plan.assignee_id
    if audience.assignee and assignee_id is not None:
        assignee_name = ticket.assignee_name
        if isinstance(payload, TicketAssigned):
            assignee_name = payload.assignee_name
        candidates.append(
            _from_user("assignee", assignee_id, users.get(assignee_id), assignee_name)
        )
    if audience.agents:
        for user in await _new_ticket_staff(
            session, excerpt_users=users, triage=plan.triage, settings=settings, at=plan.at
        ):
            candidates.append(
                Recipient("agent", user.full_name, user.language, user.email, user.user_id)
            )
    if audience.roles:
        for user in _active_with_roles(users, audience.roles):
            candidates.append(
                Recipient("supervisor", user.full_name, user.language, user.email, user.user_id)
            )
    return [c for c in candidates if c is not None]


def _select(
    payload: TicketEvent,
    candidates: list[Recipient],
    *,
    directory: _Directory,
    choices: dict[tuple[uuid.UUID, str], Choice],
    settings: NotificationsSettings,
) -> list[Recipient]:
    """The candidates who hear of the event, with the channels their choices leave."""
    users = directory.users
    actor_id = payload.actor.user_id
    actor = users.get(actor_id) if actor_id is not None else None
    actor_email = (actor.email or "").lower() if actor is not None else ""
    staff_only = isinstance(payload, TicketCommented) and payload.internal
    kind = PREFERENCE_OF_EVENT[payload.event_type]
    recipients: list[Recipient] = []
    seen_users: set[uuid.UUID] = set()
    seen_emails: set[str] = set()
    for candidate in candidates:
        email = (candidate.email or "").strip().lower() or None
        in_app = True
        is_receipt = payload.event_type == "ticket.created" and candidate.reason == "requester"
        is_actor = (candidate.user_id is not None and candidate.user_id == actor_id) or (
            candidate.user_id is None and email is not None and email == actor_email
        )
        if is_actor and not settings.notify_actor:
            if is_receipt:
                in_app = False  # the receipt mail only
            else:
                continue
        if staff_only and not _is_staff(candidate, users):
            # Defence in depth: an internal note reaches IT staff known as such, nobody else.
            continue
        if candidate.user_id is not None:
            if candidate.user_id in seen_users:
                continue
            seen_users.add(candidate.user_id)
        # The receipt of a new ticket carries its number: it goes out whatever the choices.
        choice = DEFAULT_CHOICE if is_receipt else _choice(candidate, kind, choices)
        recipient = _chosen(candidate, choice, email=email, in_app=in_app, seen=seen_emails)
        if recipient is not None:
            recipients.append(recipient)
    return recipients


def _choice(
    candidate: Recipient, kind: str, choices: dict[tuple[uuid.UUID, str], Choice]
) -> Choice:
    if candidate.user_id is None:
        return DEFAULT_CHOICE  # a unit's contact address has no preferences
    return choices.get((candidate.user_id, kind), DEFAULT_CHOICE)


def _chosen(
    candidate: Recipient, choice: Choice, *, email: str | None, in_app: bool, seen: set[str]
) -> Recipient | None:
    """The candidate with the channels their choice leaves (None: nothing left). An address
    gets one instant mail per event (``seen``)."""
    in_app = in_app and choice.in_app and candidate.user_id is not None
    if choice.email == "off":
        email = None
    if email is not None and choice.email == "instant":
        if email in seen:
            email = None  # this address already gets this event's mail
        else:
            seen.add(email)
    if email is None and not in_app:
        return None
    return replace(
        candidate,
        email=email,
        in_app=in_app,
        email_mode="digest" if choice.email == "digest" else "instant",
    )


async def _new_ticket_staff(
    session: AsyncSession,
    *,
    excerpt_users: dict[uuid.UUID, KnownUser],
    triage: Triage | None,
    settings: NotificationsSettings,
    at: datetime | None,
) -> Iterable[KnownUser]:
    """Every active agent, or the triage group's members on duty ``at``; should no member
    be left (all disabled, say), every active agent: a new ticket is never unheard."""
    if triage is None or triage.mode != "triage_group":
        return _active_with_roles(excerpt_users, ["agent"])
    staff = new_ticket_staff(
        triage, excerpt_users, moment=at or datetime.now(UTC), zone=office_zone(settings.timezone)
    )
    if staff:
        return staff
    log.warning("no triage group member is active IT staff; every agent hears of the ticket")
    everyone = await directory_excerpt(session, user_ids=[], roles=["agent"])
    return everyone.active_with_roles(["agent"])


def _active_with_roles(users: dict[uuid.UUID, KnownUser], roles: Iterable[str]) -> list[KnownUser]:
    wanted = set(roles)
    found = [u for u in users.values() if u.is_active and u.role in wanted]
    return sorted(found, key=lambda u: (u.full_name, str(u.user_id)))


def _is_staff(candidate: Recipient, directory: dict[uuid.UUID, KnownUser]) -> bool:
    if candidate.user_id is None:
        return False  # a bare address (unit contact) is never staff
    known = directory.get(candidate.user_id)
    if known is None:
        # Only IT staff can hold a ticket, so an assignee not yet in the directory is staff;
        # it gets the in-app notification (no address is known for a mail anyway).
        return candidate.reason == "assignee"
    return known.role in INTERNAL_ROLES


async def plan_attachment_recipients(
    session: AsyncSession, *, payload: AttachmentAdded, settings: NotificationsSettings
) -> list[Recipient]:
    """``attachment.added``: the ticket's assignee, unless there is none or they uploaded
    the file themselves (``notify_actor``). The requester is not told: they see the file
    on the ticket's timeline."""
    assignee_id = payload.ticket.assignee_id
    if assignee_id is None:
        return []
    uploaders = {payload.attachment.uploaded_by, payload.actor.user_id}
    if assignee_id in uploaders and not settings.notify_actor:
        return []
    excerpt = await directory_excerpt(session, user_ids=[assignee_id])
    # The snapshot carries no assignee name: the directory's, or none (in-app only then).
    candidate = _from_user("assignee", assignee_id, excerpt.users.get(assignee_id), None)
    if candidate is None:
        return []
    kind = PREFERENCE_OF_EVENT[payload.event_type]
    choices = await choices_of(session, user_ids=[assignee_id], events=[kind])
    email = (candidate.email or "").strip().lower() or None
    recipient = _chosen(
        candidate, _choice(candidate, kind, choices), email=email, in_app=True, seen=set()
    )
    return [] if recipient is None else [recipient]
