"""A local mail catcher: accepts every mail over SMTP and shows it on a small web page.

    python deploy/local/mailcatcher.py --smtp-port 1025 --http-port 8025

Point the notifications service at it (``NOTIFICATIONS_SMTP_HOST=127.0.0.1``,
``NOTIFICATIONS_SMTP_PORT=1025``; the local runner does this) and open http://127.0.0.1:8025/
to read the notifications of your test tickets. Nothing is delivered anywhere: mails are kept
in memory (the newest ``--max-messages``) and are gone when the catcher stops.

Pages: ``/`` lists the mails, newest first; ``/messages/{id}`` shows one (HTML, text and
source). JSON: ``GET /api/messages`` (``?to=address`` filters, ``?limit=n``),
``GET /api/messages/{id}``, ``DELETE /api/messages`` clears the list. ``--verbose`` logs a
line for every mail caught.

It offers PIPELINING, as production mail servers do, and runs on uvloop where installed: under
a benchmark's load it is a process of the measured system, so it should cost little.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import html
import itertools
import logging
import re
import signal
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

log = logging.getLogger("mailcatcher")


@dataclass(frozen=True)
class Parsed:
    subject: str
    from_header: str
    to_header: str
    message_id: str
    text: str
    html: str


def _part(message: EmailMessage, subtype: str) -> str:
    try:
        body = message.get_body(preferencelist=(subtype,))
        return body.get_content() if body is not None else ""
    except (KeyError, LookupError, ValueError):
        return ""


def parse(raw: bytes) -> Parsed:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)

    def header(name: str) -> str:
        # Python folds some headers as "Name:\r\n value"; strip the fold's whitespace.
        return str(message.get(name, "")).strip()

    return Parsed(
        subject=header("Subject"),
        from_header=header("From"),
        to_header=header("To"),
        message_id=header("Message-ID"),
        text=_part(message, "plain").replace("\r\n", "\n"),
        html=_part(message, "html"),
    )


@dataclass
class CaughtMail:
    """A mail as received; parsed on first look, so accepting mail stays cheap under load."""

    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    _parsed: Parsed | None = None

    @property
    def parsed(self) -> Parsed:
        if self._parsed is None:
            self._parsed = parse(self.raw)
        return self._parsed

    def summary(self) -> dict[str, Any]:
        parsed = self.parsed
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "subject": parsed.subject,
            "from": parsed.from_header,
            "to": parsed.to_header,
            "message_id": parsed.message_id,
            "text": parsed.text,
        }

    def full(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "html": self.parsed.html,
            "source": self.raw.decode("utf-8", "replace"),
        }


class MailStore:
    """The newest ``limit`` mails, in memory."""

    def __init__(self, limit: int = 1000) -> None:
        self._mails: deque[CaughtMail] = deque(maxlen=limit)
        self._ids = itertools.count(1)

    def add(self, *, mail_from: str, rcpt_tos: list[str], raw: bytes) -> CaughtMail:
        mail = CaughtMail(
            id=next(self._ids),
            received_at=datetime.now(UTC),
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            raw=raw,
        )
        self._mails.append(mail)
        return mail

    def newest_first(self) -> list[CaughtMail]:
        return list(reversed(self._mails))

    def get(self, mail_id: int) -> CaughtMail | None:
        return next((m for m in self._mails if m.id == mail_id), None)

    def clear(self) -> None:
        self._mails.clear()


class CatchAll:
    """aiosmtpd handler: every recipient is accepted, every mail is kept.

    It offers PIPELINING (RFC 2920), as the MTAs the service meets in production do:
    aiosmtpd reads commands from a stream and answers them in order, so a client may send
    MAIL, RCPT and DATA in one go (the notifications service then does).
    """

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handler that hooks EHLO
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        mail = self.store.add(
            mail_from=envelope.mail_from or "", rcpt_tos=list(envelope.rcpt_tos), raw=raw
        )
        # DEBUG, not INFO: a line per mail was a sixth of the catcher's CPU under load.
        log.debug("mail %d to %s", mail.id, ", ".join(mail.rcpt_tos))
        return "250 Message accepted"


_ANGLE_ADDRESS = re.compile(r"\s*<([^<>\s]*)>(.*)")


class FastSMTP(SMTP):
    """aiosmtpd, minus its costliest step: it parses each MAIL and RCPT address with the
    email package's full RFC 5322 parser (and defines a class per call), about a fifth of
    its CPU per mail. A plain ``<local@domain>`` path, which is what the services send, is
    taken as it is; anything else still goes to aiosmtpd's parser."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _ANGLE_ADDRESS.fullmatch(arg)
        if match and match.group(1).count("@") == 1:
            return match.group(1), match.group(2)
        return super()._getaddr(arg)


def _accept_any_login(*_: Any) -> AuthResult:
    # Services configured with SMTP credentials keep working against the catcher.
    return AuthResult(success=True)


async def start_smtp(store: MailStore, *, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    handler = CatchAll(store)
    return await loop.create_server(
        lambda: FastSMTP(
            handler,
            hostname="mailcatcher",
            enable_SMTPUTF8=True,
            authenticator=_accept_any_login,
            auth_require_tls=False,
        ),
        host=host,
        port=port,
    )


# -- web ---------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,Arial,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#1d4ed8;color:#fff;padding:12px 20px;display:flex;gap:16px}
header a{color:#fff} main{padding:16px 20px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e5e7eb;font-size:14px}
tr:hover td{background:#eff6ff} .muted{color:#6b7280}
pre{white-space:pre-wrap;background:#fff;padding:12px;border:1px solid #e5e7eb}
iframe{width:100%;height:70vh;border:1px solid #e5e7eb;background:#fff}
"""


def _page(title: str, body: str, *, refresh: bool = False) -> HTMLResponse:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return HTMLResponse(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<header><strong>Mail catcher</strong><a href="/">All mails</a></header>'
        f"<main>{body}</main></body></html>"
    )


def _local_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def create_web_app(store: MailStore) -> Starlette:
    async def index(request: Request) -> Response:
        mails = store.newest_first()
        rows = "".join(
            f'<tr><td><a href="/messages/{m.id}">'
            f"{html.escape(m.parsed.subject or '(no subject)')}</a></td>"
            f"<td>{html.escape(m.parsed.from_header or m.mail_from)}</td>"
            f"<td>{html.escape(', '.join(m.rcpt_tos))}</td>"
            f'<td class="muted">{_local_time(m.received_at)}</td></tr>'
            for m in mails
        )
        if not rows:
            rows = '<tr><td colspan="4" class="muted">No mail caught yet.</td></tr>'
        clear = (
            '<form method="post" action="/clear" style="margin-bottom:12px">'
            f'<span class="muted">{len(mails)} mail(s), newest first; this page refreshes '
            "every 5 s.</span> <button>Clear all</button></form>"
        )
        table = (
            "<table><tr><th>Subject</th><th>From</th><th>To</th><th>Received</th></tr>"
            f"{rows}</table>"
        )
        return _page("Mail catcher", clear + table, refresh=True)

    def find(request: Request) -> CaughtMail | None:
        try:
            return store.get(int(request.path_params["mail_id"]))
        except ValueError:
            return None

    async def detail(request: Request) -> Response:
        mail = find(request)
        if mail is None:
            return _page("Not found", "<p>No such mail (it may have been dropped).</p>")
        parsed = mail.parsed
        facts = "".join(
            f"<tr><th>{label}</th><td>{html.escape(value)}</td></tr>"
            for label, value in (
                ("Subject", parsed.subject),
                ("From", parsed.from_header),
                ("To", parsed.to_header),
                ("Envelope", f"{mail.mail_from} → {', '.join(mail.rcpt_tos)}"),
                ("Received", _local_time(mail.received_at)),
                ("Message-ID", parsed.message_id),
            )
        )
        parts = [f"<table>{facts}</table>"]
        if parsed.html:
            # The mail's HTML is shown in a sandboxed frame: its scripts never run here.
            parts.append(f'<h3>HTML</h3><iframe sandbox src="/messages/{mail.id}/html"></iframe>')
        parts.append(f"<h3>Text</h3><pre>{html.escape(parsed.text or '(no text part)')}</pre>")
        parts.append(f'<p><a href="/messages/{mail.id}/source">View source</a></p>')
        return _page(parsed.subject or "Mail", "".join(parts))

    async def html_body(request: Request) -> Response:
        mail = find(request)
        if mail is None:
            return PlainTextResponse("not found", status_code=404)
        return HTMLResponse(
            mail.parsed.html,
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data: http: https:; sandbox"
            },
        )

    async def source(request: Request) -> Response:
        mail = find(request)
        if mail is None:
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(mail.raw.decode("utf-8", "replace"))

    async def clear_page(request: Request) -> Response:
        store.clear()
        return Response(status_code=303, headers={"Location": "/"})

    async def api_list(request: Request) -> Response:
        mails = store.newest_first()
        to = request.query_params.get("to", "").lower()
        if to:
            mails = [m for m in mails if to in (r.lower() for r in m.rcpt_tos)]
        try:
            limit = int(request.query_params.get("limit", "0"))
        except ValueError:
            limit = 0
        if limit > 0:
            mails = mails[:limit]
        return JSONResponse([m.summary() for m in mails])

    async def api_get(request: Request) -> Response:
        mail = find(request)
        if mail is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(mail.full())

    async def api_clear(request: Request) -> Response:
        store.clear()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/clear", clear_page, methods=["POST"]),
            Route("/messages/{mail_id}", detail),
            Route("/messages/{mail_id}/html", html_body),
            Route("/messages/{mail_id}/source", source),
            Route("/api/messages", api_list, methods=["GET"]),
            Route("/api/messages", api_clear, methods=["DELETE"]),
            Route("/api/messages/{mail_id}", api_get),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C / SIGTERM stop the catcher and it exits 0; uvicorn's own handling would
        # re-raise the signal after shutting down, which a process supervisor reads as a crash.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def serve(*, host: str, smtp_port: int, http_port: int, max_messages: int) -> None:
    store = MailStore(max_messages)
    smtp = await start_smtp(store, host=host, port=smtp_port)
    config = uvicorn.Config(
        create_web_app(store), host=host, port=http_port, log_level="warning", lifespan="off"
    )
    print(
        f"mail catcher: SMTP on {host}:{smtp_port}, mails at http://{host}:{http_port}/",
        flush=True,
    )
    try:
        # Returns on Ctrl-C / SIGTERM; the SMTP server goes down with the web server.
        await _Server(config).serve()
    finally:
        smtp.close()
        await smtp.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--max-messages", type=int, default=1000)
    parser.add_argument("--verbose", action="store_true", help="log a line for every mail")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.verbose:
        log.setLevel(logging.DEBUG)
    # aiosmtpd logs every SMTP command at INFO: far too much, even with --verbose.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # a faster event loop where installed (the local runner's venv has it)

        run = uvloop.run
    run(
        serve(
            host=args.host,
            smtp_port=args.smtp_port,
            http_port=args.http_port,
            max_messages=args.max_messages,
        )
    )


if __name__ == "__main__":
    main()
