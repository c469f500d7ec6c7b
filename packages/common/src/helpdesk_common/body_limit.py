"""Request bodies over a service's limit are refused with 413 before anything reads them.

The checks are functions as well as a middleware: the app factory's one request layer
(:mod:`helpdesk_common.edge`) runs them without a layer of their own."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk_common.errors import error_body


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413: by Content-Length up front, else (chunked)
    as soon as the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_length(scope) > self.max_bytes:
            await reject_too_large(send, self.max_bytes)
            return
        await self.app(scope, *limit_body(receive, send, self.max_bytes))


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
