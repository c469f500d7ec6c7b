"""Inspect and replay parked messages of a consumer's dead-letter queue.

Reachable by administrators through every consuming service at
``GET /admin/dead-letters/{consumer}`` and ``POST /admin/dead-letters/{consumer}/replay``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import aio_pika
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from helpdesk_common.auth import require_roles
from helpdesk_common.bus import Bus, dead_letter_queue_name, queue_arguments
from helpdesk_common.consumer import LAST_ERROR_HEADER, RETRY_COUNT_HEADER, retry_count
from helpdesk_common.runtime import get_runtime


class DeadLetter(BaseModel):
    message_id: str | None
    event_type: str | None
    retries: int
    last_error: str | None
    body: Any


async def peek_dead_letters(bus: Bus, queue: str, *, limit: int = 100) -> list[DeadLetter]:
    """Read up to ``limit`` parked messages without removing them."""
    channel = await bus.channel()
    letters: list[DeadLetter] = []
    try:
        dead = await channel.declare_queue(
            dead_letter_queue_name(queue), durable=True, arguments=queue_arguments(bus.settings)
        )
        for _ in range(limit):
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = message.headers or {}
            try:
                body: Any = json.loads(message.body)
            except ValueError:
                body = message.body.decode("utf-8", "replace")
            letters.append(
                DeadLetter(
                    message_id=message.message_id,
                    event_type=message.type,
                    retries=retry_count(message),
                    last_error=_text(headers.get(LAST_ERROR_HEADER)),
                    body=body,
                )
            )
    finally:
        # Closing the channel returns every unacknowledged message to the queue, in order.
        await channel.close()
    return letters


async def replay_dead_letters(bus: Bus, queue: str, *, limit: int = 1000) -> int:
    """Move up to ``limit`` parked messages back into the consumer's queue, retries reset."""
    channel = await bus.channel()
    replayed = 0
    try:
        dead = await channel.declare_queue(
            dead_letter_queue_name(queue), durable=True, arguments=queue_arguments(bus.settings)
        )
        while replayed < limit:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if k != RETRY_COUNT_HEADER}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    body=message.body,
                    headers=headers,
                    message_id=message.message_id,
                    type=message.type,
                    content_type=message.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=queue,
                timeout=10,
            )
            await message.ack()
            replayed += 1
    finally:
        await channel.close()
    return replayed


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def dead_letter_router(consumer_names: list[str]) -> APIRouter:
    router = APIRouter(
        prefix="/admin/dead-letters",
        tags=["operations"],
        dependencies=[Depends(require_roles("admin"))],
    )

    def queue_for(request: Request, consumer: str) -> str:
        if consumer not in consumer_names:
            raise HTTPException(404, f"no consumer named {consumer!r}")
        return get_runtime(request).settings.queue_name(consumer)

    @router.get("")
    async def list_consumers() -> list[str]:
        return consumer_names

    @router.get("/{consumer}")
    async def list_dead_letters(
        request: Request, consumer: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[DeadLetter]:
        return await peek_dead_letters(
            get_runtime(request).bus, queue_for(request, consumer), limit=limit
        )

    @router.post("/{consumer}/replay")
    async def replay(
        request: Request, consumer: str, limit: Annotated[int, Query(ge=1, le=10000)] = 1000
    ) -> dict[str, int]:
        count = await replay_dead_letters(
            get_runtime(request).bus, queue_for(request, consumer), limit=limit
        )
        return {"replayed": count}

    return router
