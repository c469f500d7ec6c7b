"""Chat channels over HTTP (gateway: /api/integrations/...).

- ``/channels``: the administrators' API (Idempotency-Key on every write).
- ``/hooks/{channel_id}``: the providers' webhooks, public at the gateway and signed with
  the channel's secret instead of a token (``integrations.chat.providers``). A message is
  answered 200 only once its ticket or comment and its row are committed; the tickets
  service down is a 503, and the provider's retry then makes it (once).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from prometheus_client import Counter

from helpdesk_common.auth import require_roles
from helpdesk_common.crypto import UnreadableSecret
from helpdesk_common.db import SessionDep
from helpdesk_common.errors import ApiError
from helpdesk_common.idempotency import IdempotentRoute, secret_fields
from helpdesk_common.inputs import validation_message
from helpdesk_common.pagination import CursorQuery, Page
from helpdesk_common.responses import errors
from integrations.chat import providers, service
from integrations.chat.models import ChatChannel, ChatMessage
from integrations.chat.providers import BadPayload, BadSignature, Inbound, StaleMessage
from integrations.chat.schemas import (
    ChannelCreate,
    ChannelOut,
    ChannelUpdate,
    HookAck,
    HookResult,
    MessageOut,
    Outcome,
)
from integrations.intake.tickets_api import TicketsUnavailable
from integrations.runtime import RuntimeDep

log = logging.getLogger("integrations.chat")

HOOK_MESSAGES = Counter(
    "integrations_chat_messages_total",
    "Chat messages received by the hooks, by outcome (duplicate: received before)",
    ["provider", "outcome"],
)
HOOK_REFUSALS = Counter(
    "integrations_chat_hook_refusals_total",
    "Hook requests refused: invalid_signature, stale_message, invalid_payload, unavailable",
    ["provider", "reason"],
)

GATEWAY_HOOKS = "/api/integrations/hooks/"
RETRY_AFTER_SECONDS = 30
OUTCOMES: dict[str, Outcome] = {"ticket": "ticket", "comment": "comment", "refused": "refused"}

admin = APIRouter(
    route_class=IdempotentRoute,
    prefix="/channels",
    tags=["chat channels"],
    dependencies=[Depends(require_roles("admin"))],
)
hooks = APIRouter(prefix="/hooks", tags=["chat hooks"])

LimitQuery = Annotated[int, Query(ge=1, le=100)]


def _out(channel: ChatChannel, last_message_at: datetime | None) -> ChannelOut:
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        provider="whatsapp" if channel.provider == "whatsapp" else "generic",
        has_secret=bool(channel.secret_encrypted),
        has_verify_token=bool(channel.verify_token_encrypted),
        default_unit_id=channel.default_unit_id,
        default_category_id=channel.default_category_id,
        is_active=channel.is_active,
        webhook_path=f"{GATEWAY_HOOKS}{channel.id}",
        last_message_at=last_message_at,
        version=channel.version,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _message_out(message: ChatMessage) -> MessageOut:
    return MessageOut.model_validate(message, from_attributes=True)


@admin.get("")
async def list_channels(
    session: SessionDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> Page[ChannelOut]:
    """The chat channels, newest first."""
    async with session.begin():
        rows, next_cursor = await service.list_channels(session, cursor=cursor, limit=limit)
        last = await service.last_message_times(session, channel_ids=[c.id for c in rows])
        return Page(items=[_out(c, last.get(c.id)) for c in rows], next_cursor=next_cursor)


@admin.post("", status_code=status.HTTP_201_CREATED)
@secret_fields("secret", "verify_token")
async def create_channel(
    body: ChannelCreate, session: SessionDep, runtime: RuntimeDep
) -> ChannelOut:
    """A channel: the provider posts its messages to ``webhook_path`` (through the gateway),
    signed with ``secret``. ``secret`` and ``verify_token`` are stored encrypted and never
    returned (``has_secret``)."""
    async with session.begin():
        channel = await service.create_channel(session, runtime=runtime, data=body)
        return _out(channel, None)


@admin.get("/{channel_id:uuid}")
async def get_channel(channel_id: uuid.UUID, session: SessionDep) -> ChannelOut:
    async with session.begin():
        channel = await service.get_channel(session, channel_id=channel_id)
        last = await service.last_message_times(session, channel_ids=[channel.id])
        return _out(channel, last.get(channel.id))


@admin.patch("/{channel_id:uuid}")
@secret_fields("secret", "verify_token")
async def update_channel(
    channel_id: uuid.UUID, body: ChannelUpdate, session: SessionDep, runtime: RuntimeDep
) -> ChannelOut:
    """Change a channel (412 ``version_mismatch`` when ``version`` is not the current one);
    ``secret`` and ``verify_token`` change when given, and are kept when left out."""
    async with session.begin():
        channel = await service.update_channel(
            session, runtime=runtime, channel_id=channel_id, data=body
        )
        last = await service.last_message_times(session, channel_ids=[channel.id])
        return _out(channel, last.get(channel.id))


@admin.delete("/{channel_id:uuid}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(channel_id: uuid.UUID, session: SessionDep) -> Response:
    """Delete a channel with its message log (its tickets stay)."""
    async with session.begin():
        await service.delete_channel(session, channel_id=channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin.get("/{channel_id:uuid}/messages")
async def list_messages(
    channel_id: uuid.UUID,
    session: SessionDep,
    outcome: Outcome | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Page[MessageOut]:
    """The messages the channel received and what became of each, newest first."""
    async with session.begin():
        rows, next_cursor = await service.list_messages(
            session, channel_id=channel_id, outcome=outcome, cursor=cursor, limit=limit
        )
        return Page(items=[_message_out(m) for m in rows], next_cursor=next_cursor)


# The providers' hooks


def _refused(provider: str, reason: str, status_code: int, code: str, message: str) -> ApiError:
    HOOK_REFUSALS.labels(provider, reason).inc()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status_code == 503 else {}
    return ApiError(status_code, code, message, headers=headers)


def _unauthorised(provider: str, reason: str) -> ApiError:
    # One answer whatever was wrong: no hint for someone trying signatures.
    return _refused(
        provider, reason, 401, "invalid_signature", "The request's signature is not valid"
    )


def _invalid_payload(found: list[dict[str, Any]]) -> ApiError:
    """422 ``validation_error`` naming each field by its full path in the provider's body
    (``entry.0.changes.0.value.messages.0.text.body``: a field may be called "body")."""
    fields = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())) or "body",
            "message": validation_message(dict(error)) or str(error.get("msg", "invalid")),
        }
        for error in found
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    error = ApiError(422, "validation_error", f"Invalid request: {summary}")
    error.extra = {"fields": fields}
    return error


async def _active_channel(session: SessionDep, channel_id: uuid.UUID) -> service.HookChannel:
    async with session.begin():
        channel = service.HookChannel.of(await service.get_channel(session, channel_id=channel_id))
    if not channel.is_active:
        raise service.not_found()
    return channel


HOOK_BODY = {
    "requestBody": {
        "required": True,
        "description": "generic: one message `{message_id, conversation_id, sender: {id,"
        " name, email?, phone?}, text, sent_at?}`; whatsapp: Meta's notification"
        " `{object, entry: [{changes: [{field, value: {contacts, messages, statuses}}]}]}`."
        " Signed over the raw bytes (see the headers).",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@hooks.post(
    "/{channel_id:uuid}",
    openapi_extra=HOOK_BODY,
    responses=errors(
        401,
        s401="`invalid_signature`: the signature is missing or wrong, or the timestamp is"
        " outside the tolerance; `stale_message`: a WhatsApp message older than the accepted"
        " age. Nothing is stored.",
    ),
)
async def receive(
    channel_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    x_helpdesk_timestamp: Annotated[
        str | None, Header(max_length=20, description="generic: unix seconds")
    ] = None,
    x_helpdesk_signature: Annotated[
        str | None,
        Header(
            max_length=200,
            description='generic: "sha256=" + hex HMAC-SHA256(secret, "<timestamp>.<raw body>")',
        ),
    ] = None,
    x_hub_signature_256: Annotated[
        str | None,
        Header(
            max_length=200,
            description='whatsapp: "sha256=" + hex HMAC-SHA256(app secret, raw body)',
        ),
    ] = None,
) -> HookAck:
    """A provider's message(s): each becomes a ticket (a new conversation, or one whose
    ticket is closed) or a comment on its conversation's ticket, once per provider message
    id. 200 after commit; 503 when the tickets service cannot take it (send it again)."""
    channel = await _active_channel(session, channel_id)
    provider = channel.provider
    body = await request.body()
    now = datetime.now(UTC)
    try:
        secret = runtime.cipher.decrypt(channel.secret_encrypted)
    except UnreadableSecret:
        log.error("chat channel secret unreadable", extra={"channel_id": str(channel.id)})
        raise _unauthorised(provider, "unreadable_secret") from None
    settings = runtime.settings
    try:
        messages: list[Inbound]
        if provider == "whatsapp":
            providers.verify_whatsapp(secret=secret, body=body, signature=x_hub_signature_256)
            messages = providers.parse_whatsapp(
                body, now=now, max_age_seconds=settings.chat_message_max_age_seconds
            )
        else:
            providers.verify_generic(
                secret=secret,
                body=body,
                timestamp=x_helpdesk_timestamp,
                signature=x_helpdesk_signature,
                now=now,
                tolerance_seconds=settings.chat_signature_tolerance_seconds,
            )
            messages = providers.parse_generic(body)
    except BadSignature as exc:
        log.info(
            "chat hook refused",
            extra={"channel_id": str(channel.id), "reason": str(exc)},
        )
        raise _unauthorised(provider, "invalid_signature") from None
    except StaleMessage:
        raise _refused(
            provider, "stale_message", 401, "stale_message", "A message is too old"
        ) from None
    except BadPayload as exc:
        HOOK_REFUSALS.labels(provider, "invalid_payload").inc()
        if exc.invalid_json:
            raise ApiError(
                400, "invalid_json", "The request body is not valid JSON", field="body"
            ) from None
        raise _invalid_payload(exc.errors) from None
    results: list[HookResult] = []
    for message in messages:
        try:
            async with session.begin():
                done = await service.receive_message(
                    session, runtime=runtime, channel=channel, message=message
                )
        except TicketsUnavailable as exc:
            log.warning(
                "chat message deferred: tickets service unavailable",
                extra={"channel_id": str(channel.id), "reason": str(exc)},
            )
            raise _refused(
                provider,
                "unavailable",
                503,
                "tickets_unavailable",
                "The tickets service cannot take the message now; send it again",
            ) from None
        HOOK_MESSAGES.labels(provider, "duplicate" if done.duplicate else done.outcome).inc()
        results.append(
            HookResult(
                message_id=done.message_id,
                outcome=OUTCOMES[done.outcome],
                duplicate=done.duplicate,
                ticket_id=done.ticket_id,
                ticket_number=done.ticket_number,
            )
        )
    return HookAck(received=len(results), results=results)


@hooks.get(
    "/{channel_id:uuid}",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **errors(403, s403="`verification_failed`: not a subscription, or a wrong token"),
    },
)
async def verify_subscription(
    channel_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=50)] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=200)] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None,
) -> PlainTextResponse:
    """WhatsApp's subscription handshake: with ``hub.mode=subscribe`` and the channel's
    verify token, the answer is ``hub.challenge`` as plain text."""
    channel = await _active_channel(session, channel_id)
    expected = None
    if channel.verify_token_encrypted:
        try:
            expected = runtime.cipher.decrypt(channel.verify_token_encrypted)
        except UnreadableSecret:
            expected = None
    if (
        mode != "subscribe"
        or expected is None
        or verify_token is None
        or challenge is None
        or not providers.same_text(verify_token, expected)
    ):
        raise ApiError(403, "verification_failed", "Subscription verification failed")
    return PlainTextResponse(challenge)


router = APIRouter()
router.include_router(admin)
router.include_router(hooks)
