"""Request bodies over a service's limit are refused with 413 before anything reads them."""

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
        if self._declared_too_large(scope):
            await self._reject(send)
            return
        received = 0
        started = rejected = cut = False

        async def limited_receive() -> Message:
            nonlocal received, rejected, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Tell the app the client is gone (an exception raised here would reach
                    # the framework's body parser, which makes a 400 of it) and, unless the
                    # app has begun its response, answer 413 in its place.
                    cut = True
                    if not started:
                        rejected = True
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is the response; whatever the app answers is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    def _declared_too_large(self, scope: Scope) -> bool:
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    return int(value) > self.max_bytes
                except ValueError:
                    return False
        return False

    async def _reject(self, send: Send) -> None:
        response = JSONResponse(
            error_body(
                "body_too_large",
                f"The request body is larger than {self.max_bytes} bytes",
                fields=[{"field": "body", "message": "too large"}],
            ),
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
