"""Schemathesis hooks of the contract test (``tests/test_api_contract.py``), loaded with
``SCHEMATHESIS_HOOKS=tests/contract/hooks.py``.

Two things a schema cannot say, and nothing else:

- **A fresh ``Idempotency-Key`` per request**, as the API asks of clients: the generator
  draws keys from a small space ("0", "00", ...), and the same key with another request is
  refused (422 ``idempotency_key_reused``), as it must be. A key that breaks the declared
  pattern is left as it is, so that its refusal is still tested.
- **Rules that depend on stored data, or tie fields together**, which no JSON Schema can
  state: a schema-valid request that breaks one is refused with a 4xx naming the rule, and
  :data:`RULES_BEYOND_THE_SCHEMA` lists those codes. ``positive_data_acceptance`` runs as
  usual and only such a refusal passes; any other 4xx answer to a schema-valid request
  fails as before (the test excludes the built-in check and runs this one instead).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis
from schemathesis.generation.meta import CoverageScenario
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from helpdesk_common.idempotency import HEADER, KEY_PATTERN

# error code (or "code:field") -> why a schema cannot declare it
RULES_BEYOND_THE_SCHEMA: dict[str, str] = {
    # Stored data
    "invalid_cursor": "a cursor is opaque: only one a page handed out is valid",
    "version_mismatch": "If-Match must name the record's current version",
    "duplicate_view_name": "the caller already has a view of this name",
    "unknown_unit": "the unit must exist (and be active)",
    "inactive_unit": "the unit must be active",
    "unknown_priority": "the priority must exist and be active",
    "unknown_category": "the category must exist and be active",
    "unknown_agent": "the user must be an active agent",
    "unknown_user": "the user must exist",
    "invalid_recipient": "recipients must be active agents, leaders or administrators",
    "not_an_agent": "a triage member must be an active agent or administrator",
    "invalid_unit": "a requester files tickets for their own unit (the caller's)",
    "priority_not_allowed": "the caller's role decides who sets a ticket's priority",
    "invalid_requester": "a requester files tickets in their own name (the caller's)",
    "filename_required": "a raw upload (the Content-Type) names its file in ?filename=",
    "unknown_action": "the actions of the service's log, as GET /audit-log/actions lists them",
    "event_not_for_role": "the caller's role decides which events can reach them",
    "unsupported_logo_type": "a logo's bytes must be a PNG, JPEG or SVG image (sniffed)",
    "unsupported_type": "a file's bytes decide its type (sniffed), not its declared media type",
    "no_recipient": "without 'to', a test mail goes to the caller's address, if they have one",
    # Fields together
    "precondition_required": "a change names its version in If-Match or in 'version'",
    "invalid_period": "a period ends after it starts and spans at most 10 years",
    "invalid_office_hours": "office hours end after they start",
    "reversed_period": "a period's start is not after its end",
    "empty_triage_group": "a triage group (the mode) has members",
    "required:assignee_id": "a bulk assignment (the action) names the agent",
    "required:reason": "a bulk action that needs a reason (the action) has one",
    "required:priority": "a bulk priority change (the action) names the priority",
    "unit_required": "a requester belongs to a unit (the role decides)",
    "verify_token_required": "a WhatsApp channel (the provider) has a verify token",
    "duty_from_not_before_to": "a duty starts before it ends",
    "duplicate_member": "a member is listed once (items unique by their user_id)",
    "duplicate_event": "an event is listed once (items unique by their event)",
    "duplicate_ticket": "a ticket is listed once (items unique by their id)",
    # The world outside
    "unresolvable_host": "a webhook URL's host must resolve (DNS)",
    "address_not_allowed": "a webhook URL's host must resolve to addresses it may call (SSRF)",
    "invalid_url": "a webhook URL's port, credentials and host are checked by parsing it",
}

_KEY = re.compile(KEY_PATTERN)


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: Any) -> None:
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    if getattr(data, "scenario", None) == CoverageScenario.MISSING_PARAMETER:
        return  # a case without a header: left exactly as drawn
    headers = case.headers
    if headers and isinstance(headers.get(HEADER), str) and _KEY.match(headers[HEADER]):
        headers[HEADER] = uuid.uuid4().hex


def _beyond_the_schema(response: schemathesis.Response) -> bool:
    """Whether the refusal names a rule of :data:`RULES_BEYOND_THE_SCHEMA`, or a rule of a
    whole body (a model's validator: its fields together, reported on ``body``)."""
    try:
        body = response.json()
    except Exception:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    fields = [field.get("field") for field in error.get("fields") or []]
    code = error.get("code")
    if code in RULES_BEYOND_THE_SCHEMA or f"{code}:{','.join(fields)}" in RULES_BEYOND_THE_SCHEMA:
        return True
    return error.get("code") == "validation_error" and bool(fields) and set(fields) == {"body"}


@schemathesis.check
def positive_data_acceptance_beyond_schema(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """``positive_data_acceptance``, passing a refusal by a rule the schema cannot state."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _beyond_the_schema(response):
            return None
        raise
