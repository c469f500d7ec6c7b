"""Who may do what to a ticket, and where each action leads: policy as data, not code.

Two tables decide every request:

- ``DEFAULT_ROLES``: action -> the roles that may perform it (overridable per deployment
  with ``TICKETS_POLICY_OVERRIDES``, e.g. ``{"reassign": ["admin"]}``);
- ``TRANSITIONS``: (status, action) -> the status after it. A pair missing from the table
  is an illegal transition (409, with the actions that are allowed instead).

A role missing an action gets 403 (``PermissionDenied``), an illegal transition 409
(``Conflict``); unit scoping (a requester sees only their own unit's tickets, everything
else is 404) is applied before either table is consulted.

Administrators read every ticket and dispatch (assign, reassign, close), edit and comment
on them; the operational steps (verify, claim, pend, resolve) belong to agents, and an
administrator who also works tickets does so with an agent account. Leaders only read.

A held ticket (one with an assignee) is its holder's work: the IT office's steps on it
(``HOLDER_ACTIONS``: status changes and edits) are for the holder and for the roles given
that right (``held_override_roles``, ``TICKETS_HELD_TICKET_OVERRIDE_ROLES``, default the
administrators); any other staff member gets 403 ``ticket_held_by_other`` naming the holder
(seed 004: agents change the tickets assigned to them, or as their authority allows).
Taking the ticket over is ``reassign``, a right of its own; comments and internal notes stay
open to every staff member (collaboration); the requester's own steps (confirm, reopen,
resume) and the scheduler's are not a holder's business.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

from helpdesk_common.contracts.identity import INTERNAL_ROLES, IT_STAFF_ROLES, ROLES
from helpdesk_common.contracts.tickets import TicketStatus
from helpdesk_common.errors import Conflict, PermissionDenied

Status: TypeAlias = TicketStatus
Action = Literal[
    "create",
    "edit",
    "comment",
    "comment_internal",
    "accept",
    "claim",
    "assign",
    "reassign",
    "reject",
    "pending",
    "resume",
    "resolve",
    "confirm",
    "reopen",
    "close",
    "auto_close",
]

STATUSES: tuple[Status, ...] = get_args(TicketStatus)
STATUS_LABELS: dict[str, str] = {
    "new": "Baru",
    "in_progress": "Diproses",
    "pending": "Tertunda",
    "resolved": "Selesai",
    "closed": "Ditutup",
    "rejected": "Ditolak",
}
SYSTEM_ROLE = "system"

# IT_STAFF_ROLES: the IT office's staff, agent and admin (helpdesk_common.contracts.identity).
DEFAULT_ROLES: dict[Action, frozenset[str]] = {
    "create": frozenset({"requester", "agent"}),
    "edit": IT_STAFF_ROLES,
    "comment": frozenset({"requester", "agent", "admin"}),
    "comment_internal": IT_STAFF_ROLES,
    "accept": frozenset({"agent"}),
    "claim": frozenset({"agent"}),
    "assign": IT_STAFF_ROLES,
    "reassign": IT_STAFF_ROLES,
    "reject": frozenset({"agent"}),
    "pending": frozenset({"agent"}),
    # The requester answered what the agent was waiting for.
    "resume": frozenset({"agent", "requester"}),
    "resolve": frozenset({"agent"}),
    "confirm": frozenset({"requester"}),
    "reopen": frozenset({"requester", "agent"}),
    "close": IT_STAFF_ROLES,
    "auto_close": frozenset({SYSTEM_ROLE}),
}

# The IT office's actions on a held ticket that only its holder (or a role given that right)
# may take. Not claim (a held ticket cannot be claimed: 409), assign/reassign (taking it over
# is the reassign right), comments (collaboration), auto_close (the scheduler).
HOLDER_ACTIONS: frozenset[str] = frozenset(
    {"accept", "reject", "pending", "resume", "resolve", "reopen", "close", "edit"}
)
# Who acts on a held ticket only as its holder: the IT office and leaders. A requester's
# steps on their unit's ticket (resume, reopen, confirm) are theirs, whoever holds it.
HOLDER_BOUND_ROLES: frozenset[str] = INTERNAL_ROLES
DEFAULT_HELD_OVERRIDE_ROLES: frozenset[str] = frozenset({"admin"})

# Actions that leave the status as it is are listed too: they are legal only there.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    ("new", "accept"): "in_progress",
    ("new", "claim"): "in_progress",
    ("new", "assign"): "new",
    ("new", "reassign"): "new",
    ("new", "reject"): "rejected",
    ("new", "edit"): "new",
    ("new", "comment"): "new",
    ("new", "comment_internal"): "new",
    ("in_progress", "claim"): "in_progress",
    ("in_progress", "assign"): "in_progress",
    ("in_progress", "reassign"): "in_progress",
    ("in_progress", "pending"): "pending",
    ("in_progress", "resolve"): "resolved",
    ("in_progress", "edit"): "in_progress",
    ("in_progress", "comment"): "in_progress",
    ("in_progress", "comment_internal"): "in_progress",
    ("pending", "assign"): "pending",
    ("pending", "reassign"): "pending",
    ("pending", "resume"): "in_progress",
    ("pending", "resolve"): "resolved",
    ("pending", "edit"): "pending",
    ("pending", "comment"): "pending",
    ("pending", "comment_internal"): "pending",
    ("resolved", "confirm"): "closed",
    ("resolved", "reopen"): "in_progress",
    ("resolved", "close"): "closed",
    ("resolved", "auto_close"): "closed",
    ("resolved", "comment"): "resolved",
    ("resolved", "comment_internal"): "resolved",
    ("rejected", "comment"): "rejected",
    ("rejected", "comment_internal"): "rejected",
}

# The same table keyed by the plain strings a request names.
_TARGETS: dict[tuple[str, str], Status] = {key: target for key, target in TRANSITIONS.items()}

# Shown to clients as the actions they can take on a ticket (allowed_actions).
TICKET_ACTIONS: tuple[Action, ...] = (
    "accept",
    "claim",
    "assign",
    "reassign",
    "reject",
    "pending",
    "resume",
    "resolve",
    "confirm",
    "reopen",
    "close",
    "edit",
    "comment",
    "comment_internal",
)

VERBS: dict[str, str] = {
    "accept": "accept",
    "claim": "claim",
    "assign": "assign",
    "reassign": "reassign",
    "reject": "reject",
    "pending": "put on hold",
    "resume": "resume",
    "resolve": "resolve",
    "confirm": "confirm",
    "reopen": "reopen",
    "close": "close",
    "auto_close": "close",
    "edit": "edit",
    "comment": "comment on",
    "comment_internal": "add internal notes to",
    "create": "create",
}


# Far more than roles x statuses x assigned or not.
_ALLOWED_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Holder:
    """Who holds a ticket (its assignee), as an error names them."""

    id: uuid.UUID
    name: str | None


@dataclass(frozen=True)
class Policy:
    roles: Mapping[str, frozenset[str]]
    # Roles that may take HOLDER_ACTIONS on a ticket someone else holds.
    held_override_roles: frozenset[str] = DEFAULT_HELD_OVERRIDE_ROLES
    # (role, status, assigned, held by another) -> allowed actions, kept on first use: a
    # list page asks for every ticket shown (up to 100), and the answer depends on nothing
    # else.
    _allowed: dict[tuple[str, str, bool, bool], tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def may(self, role: str, action: str) -> bool:
        return role in self.roles.get(action, frozenset())

    def holder_only(self, *, role: str, action: str) -> bool:
        """Whether ``role`` may take ``action`` on a held ticket only as its holder."""
        return (
            action in HOLDER_ACTIONS
            and role in HOLDER_BOUND_ROLES
            and role not in self.held_override_roles
        )

    def require_holder(
        self,
        *,
        role: str,
        action: str,
        actor_id: uuid.UUID | None,
        holder: Holder | None,
        number: str,
    ) -> None:
        """403 ``ticket_held_by_other`` (naming the holder) when someone else holds the
        ticket and ``role`` may take ``action`` on it only as its holder."""
        if (
            holder is None
            or holder.id == actor_id
            or not self.holder_only(role=role, action=action)
        ):
            return
        name = holder.name or str(holder.id)
        overriding = sorted(self.held_override_roles)
        raise PermissionDenied(
            "ticket_held_by_other",
            f"Ticket {number} is held by {name}: only they"
            + (f" (or the roles {', '.join(overriding)})" if overriding else "")
            + f" may {VERBS.get(action, action)} it; ask them, or have it reassigned",
            extra={"holder": {"id": str(holder.id), "name": holder.name}},
        )

    def allowed_actions(
        self, *, role: str, status: str, assigned: bool, held_by_other: bool = False
    ) -> list[str]:
        """What ``role`` can do to a ticket in ``status`` right now (``held_by_other``: it
        has an assignee who is not the caller)."""
        key = (role, status, assigned, held_by_other)
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = tuple(
                self._compute_allowed(
                    role=role, status=status, assigned=assigned, held_by_other=held_by_other
                )
            )
            if len(self._allowed) < _ALLOWED_CACHE_SIZE:  # bounded, whatever callers pass
                self._allowed[key] = allowed
        return list(allowed)

    def _compute_allowed(
        self, *, role: str, status: str, assigned: bool, held_by_other: bool
    ) -> list[str]:
        allowed: list[str] = []
        for action in TICKET_ACTIONS:
            if (status, action) not in TRANSITIONS or not self.may(role, action):
                continue
            if held_by_other and self.holder_only(role=role, action=action):
                continue
            # Claiming never takes a ticket from someone; assign vs reassign by holder.
            if action == "claim" and assigned:
                continue
            if action == "assign" and assigned:
                continue
            if action == "reassign" and not assigned:
                continue
            allowed.append(action)
        return allowed

    def require_role(self, *, role: str, action: str) -> None:
        if not self.may(role, action):
            allowed = sorted(self.roles.get(action, ()))
            raise PermissionDenied(
                "forbidden",
                f"Role '{role}' may not {VERBS.get(action, action)} tickets"
                + (f" (allowed: {', '.join(allowed)})" if allowed else ""),
            )

    def check(
        self, *, role: str, status: str, action: str, assigned: bool, held_by_other: bool = False
    ) -> Status:
        """The status after ``action``; 403 for the wrong role, 409 for the wrong status."""
        self.require_role(role=role, action=action)
        target = _TARGETS.get((status, action))
        if target is None:
            allowed = self.allowed_actions(
                role=role, status=status, assigned=assigned, held_by_other=held_by_other
            )
            raise Conflict(
                "invalid_transition",
                f"Cannot {VERBS.get(action, action)} a ticket that is {status} "
                f"({STATUS_LABELS.get(status, status)}); "
                + (
                    f"allowed now: {', '.join(allowed)}"
                    if allowed
                    else "no action of yours is allowed now"
                ),
                extra={"status": status, "action": action, "allowed_actions": allowed},
            )
        return target

    def matrix(self) -> list[dict[str, object]]:
        """The whole table, for ``GET /policy`` and the documentation."""
        return [
            {
                "from_status": status,
                "action": action,
                "to_status": target,
                "roles": sorted(self.roles.get(action, ())),
            }
            for (status, action), target in TRANSITIONS.items()
        ]


def build_policy(
    overrides: Mapping[str, list[str]] | None = None,
    *,
    held_override_roles: Iterable[str] = DEFAULT_HELD_OVERRIDE_ROLES,
) -> Policy:
    overriding = frozenset(held_override_roles)
    if unknown_roles := overriding - set(ROLES):
        raise ValueError(f"unknown roles {sorted(unknown_roles)} in held_ticket_override_roles")
    roles: dict[str, frozenset[str]] = {action: who for action, who in DEFAULT_ROLES.items()}
    for action, allowed in (overrides or {}).items():
        if action not in DEFAULT_ROLES:
            raise ValueError(f"unknown action {action!r} in policy overrides")
        unknown = set(allowed) - set(ROLES) - {SYSTEM_ROLE}
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)} for action {action!r}")
        roles[action] = frozenset(allowed)
    return Policy(roles=roles, held_override_roles=overriding)
