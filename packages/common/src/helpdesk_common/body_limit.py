"""Request bodies over a service's limit are refused with 413 before anything reads them:
by Content-Length up front, else (chunked) as soon as the bytes received pass the limit.
The app factory's one request layer (:mod:`helpdesk_common.edge`) runs these checks."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from helpdesk_common.errors import error_body


def declared_length(scope: Scope) -> int:
    """The request's Content-Length (0 when there is none or it is not a number)."""
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def needs_counting(scope: Scope) -> bool:
    """Whether a body may arrive without a valid Content-Length (chunked), so that only
    counting its bytes as they come can enforce the limit. With a Content-Length the
    server reads no more than it declares (HTTP/1.1 framing); a GET or HEAD body is never
    read by a route."""
    if scope["method"] in ("GET", "HEAD"):
        return False
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            return not value.isdigit()
    return True


def limit_body(receive: Receive, send: Send, max_bytes: int) -> tuple[Receive, Send]:
    """``receive`` and ``send`` that answer 413 in the app's place as soon as the bytes
    received pass ``max_bytes``."""
    received = 0
    started = rejected = cut = False

    async def limited_receive() -> Message:
        nonlocal received, rejected, cut
        if cut:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                # Tell the app the client is gone (an exception raised here would reach
                # the framework's body parser, which makes a 400 of it) and, unless the
                # app has begun its response, answer 413 in its place.
                cut = True
                if not started:
                    rejected = True
                    await reject_too_large(send, max_bytes)
                return {"type": "http.disconnect"}
        return message

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if rejected:
            return  # the 413 is the response; whatever the app answers is dropped
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    return limited_receive, guarded_send


async def reject_too_large(send: Send, max_bytes: int) -> None:
    response = JSONResponse(
        error_body(
            "body_too_large",
            f"The request body is larger than {max_bytes} bytes",
            fields=[{"field": "body", "message": "too large"}],
        ),
        status_code=413,
    )
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
