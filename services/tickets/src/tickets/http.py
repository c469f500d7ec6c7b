"""HTTP details shared by the routers: versions from If-Match, body limits."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from helpdesk_common.errors import ApiError, error_body


def version_from_if_match(value: str | None) -> int | None:
    """``If-Match: "7"`` (or ``W/"7"``, or ``7``) -> 7; ``*`` or absent -> no condition."""
    if value is None:
        return None
    tag = value.strip()
    if tag in ("", "*"):
        return None
    tag = tag.removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise ApiError(
            412,
            "version_mismatch",
            "If-Match does not name a version of this ticket (use its ETag)",
            field="If-Match",
        ) from None


def expected_version(header: str | None, body_version: int | None) -> int | None:
    from_header = version_from_if_match(header)
    return from_header if from_header is not None else body_version


def etag(version: int) -> str:
    return f'"{version}"'


class BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 before anything reads them whole."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._reject(send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)

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
