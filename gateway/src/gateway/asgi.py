"""Small raw-ASGI helpers for answers the gateway produces itself on the hot path."""

from __future__ import annotations

import json

from starlette.types import Send

from helpdesk_common.errors import error_body


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """The shared error shape (``helpdesk_common.errors``) without a framework round trip."""
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
