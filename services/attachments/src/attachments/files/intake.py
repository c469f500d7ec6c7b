"""Receiving an upload: the request body streamed to a spool file on disk, never whole in
memory, with its SHA-256 and size counted on the way and the file limit enforced as the
bytes arrive (413 naming the limit, before the rest is stored anywhere).

Two forms: ``multipart/form-data`` with one file part ``file`` (and optional small text
fields such as ``kind``), or the raw file as the body with its name in ``?filename=``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from helpdesk_common.errors import InvalidInput, TooLarge
from helpdesk_common.sizes import file_size

# Text fields of a multipart upload: small, and only these are kept.
FORM_FIELDS = frozenset({"kind"})
MAX_FIELD_BYTES = 200
# After refusing a file as too large, up to this much more of the body is read and
# dropped, so that the client (mid-send) gets the 413 rather than a reset connection.
DRAIN_LIMIT = 64 * 1024 * 1024


def file_too_large(limit: int) -> TooLarge:
    return TooLarge(
        "file_too_large",
        f"The file is larger than the limit of {file_size(limit)} ({limit} bytes)",
        field="file",
        extra={"limit_bytes": limit},
    )


@dataclass
class Spool:
    """A temporary file receiving an upload: size and SHA-256 as the bytes arrive."""

    path: Path
    limit: int
    out: BinaryIO
    size: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)

    @classmethod
    def create(cls, directory: str | None, limit: int) -> Spool:
        descriptor, name = tempfile.mkstemp(prefix="upload-", dir=directory)
        return cls(path=Path(name), limit=limit, out=os.fdopen(descriptor, "wb"))

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise file_too_large(self.limit)
        self._hash.update(data)
        # Writing a chunk (64 KB at most) to a local file goes to the page cache in
        # microseconds: not worth a thread hop per chunk.
        self.out.write(data)

    def close(self) -> None:
        self.out.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        self.out.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class Upload:
    spool: Spool
    filename: str
    fields: dict[str, str]


class _Multipart:
    """Callbacks of python-multipart's streaming parser: the part ``file`` goes to the
    spool, the known text fields to memory (a few bytes), anything else is dropped."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.filename: str | None = None
        self.fields: dict[str, str] = {}
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._target: str | None = None  # "file", a field name, or None (dropped)
        self._field_value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._target = None
        self._field_value = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = _text(options.get(b"name", b""))
        if b"filename" in options:
            if name != "file":
                raise InvalidInput(
                    "unexpected_file",
                    f"Send the file in the field 'file', not {name!r}",
                    field=name or "file",
                )
            if self.filename is not None:
                raise InvalidInput(
                    "one_file_per_request", "Send one file per request", field="file"
                )
            self.filename = _text(options[b"filename"])
            self._target = "file"
        elif name in FORM_FIELDS:
            self._target = name

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._target == "file":
            self.spool.write(data[start:end])
        elif self._target is not None:
            self._field_value += data[start:end]
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise InvalidInput(
                    "field_too_long", f"The field {self._target!r} is too long", field=self._target
                )

    def _on_part_end(self) -> None:
        if self._target not in (None, "file"):
            self.fields[self._target] = _text(bytes(self._field_value)).strip()


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def _drain(request: Request, already: int) -> None:
    """Read and drop the rest of a refused body (bounded), so the client hears the answer."""
    received = already
    with contextlib.suppress(ClientDisconnect):
        async for chunk in request.stream():
            received += len(chunk)
            if received > DRAIN_LIMIT:
                return


async def receive_upload(
    request: Request,
    *,
    limit: int,
    spool_dir: str | None,
    filename: str | None,
    raw: bool = False,
) -> Upload:
    """The upload of ``request`` spooled to disk; the caller discards the spool when done.
    ``filename``: the name given in the query (raw uploads); ``raw``: the body is the file
    whatever its Content-Type says (the internal upload passes a mail part's type on)."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    spool = Spool.create(spool_dir, limit)
    received = 0
    try:
        if content_type == b"multipart/form-data" and not raw:
            boundary = options.get(b"boundary")
            if not boundary:
                raise InvalidInput(
                    "invalid_multipart", "The multipart body has no boundary", field="file"
                )
            form = _Multipart(spool)
            parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
            try:
                async for chunk in request.stream():
                    received += len(chunk)
                    parser.write(chunk)
                parser.finalize()
            except MultipartParseError as exc:
                raise InvalidInput(
                    "invalid_multipart", f"The multipart body is malformed: {exc}", field="file"
                ) from exc
            spool.close()
            if form.filename is None:
                raise InvalidInput(
                    "file_required", "The form has no file in the field 'file'", field="file"
                )
            return Upload(spool=spool, filename=form.filename, fields=form.fields)
        if not filename:
            raise InvalidInput(
                "filename_required",
                "Name the file: ?filename=... for a raw upload, or send multipart/form-data",
                field="filename",
            )
        async for chunk in request.stream():
            received += len(chunk)
            spool.write(chunk)
        spool.close()
        return Upload(spool=spool, filename=filename, fields={})
    except TooLarge:
        spool.discard()
        await _drain(request, received)
        raise
    except BaseException:
        spool.discard()
        raise
