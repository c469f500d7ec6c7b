"""PDFs through typst: the shared frame (``templates/base.typ``) plus a document's template.

Content goes in as JSON through typst's ``sys.inputs``, never spliced into the source, so a
ticket title full of markup characters is printed as typed. Compiling takes a worker thread
(typst releases the GIL), at most ``max_parallel`` at a time, so the event loop keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import anyio
import typst
from pydantic import BaseModel, ConfigDict

from helpdesk_documents.labels import LABELS, Language, format_datetime
from helpdesk_documents.organisation import Organisation

PDF_MEDIA_TYPE = "application/pdf"

# Compiles running at once per process: a PDF is CPU work; more would only queue for cores.
_limiter: anyio.CapacityLimiter | None = None


class DocumentMeta(BaseModel):
    """The frame's facts: what the document is, for whom and by whom it was generated."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    title: str
    subtitle: str | None = None
    organisation: Organisation = Organisation()
    generated_at: datetime
    generated_by: str
    language: Language = "id"
    timezone: str = "Asia/Jakarta"


class RenderError(RuntimeError):
    """A template failed to compile: a bug in the template, never the user's data."""


@cache
def _base() -> str:
    return files("helpdesk_documents").joinpath("templates/base.typ").read_text("utf-8")


def _doc_input(meta: DocumentMeta, labels: Mapping[str, str]) -> str:
    return json.dumps(
        {
            "title": meta.title,
            "subtitle": meta.subtitle,
            "language": meta.language,
            "organisation": meta.organisation.letterhead(),
            "generated_at": format_datetime(
                meta.generated_at, timezone=meta.timezone, language=meta.language
            ),
            "generated_by": meta.generated_by,
            "labels": {**LABELS[meta.language], **labels},
        },
        ensure_ascii=False,
    )


def render_pdf_sync(
    template: str,
    *,
    meta: DocumentMeta,
    data: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
    charts: Mapping[str, str] | None = None,
) -> bytes:
    """Compile ``template`` (typst source reading ``doc``, ``data`` and ``L``) to PDF bytes.

    ``labels`` adds the document's own words to ``L``; ``charts`` are SVG texts that the
    template places with ``#chart("name")``.
    """
    inputs = {
        "doc": _doc_input(meta, labels or {}),
        "data": json.dumps(data, ensure_ascii=False, default=str),
        **{f"chart-{name}": svg for name, svg in (charts or {}).items()},
    }
    source = (_base() + "\n" + template).encode()
    try:
        pdf: bytes = typst.compile(
            source,
            sys_inputs=inputs,
            ignore_system_fonts=True,
            # typst's PDF timestamp takes whole seconds only.
            timestamp=meta.generated_at.astimezone(UTC).replace(microsecond=0),
        )
    except typst.TypstError as exc:
        raise RenderError(f"{exc.message}: {exc.diagnostic}") from exc
    return pdf


async def render_pdf(
    template: str,
    *,
    meta: DocumentMeta,
    data: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
    charts: Mapping[str, str] | None = None,
    max_parallel: int = 2,
) -> bytes:
    """:func:`render_pdf_sync` in a worker thread, without blocking the event loop."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(max_parallel)

    def compile_() -> bytes:
        return render_pdf_sync(template, meta=meta, data=data, labels=labels, charts=charts)

    return await anyio.to_thread.run_sync(compile_, limiter=_limiter)


@cache
def load_template(package: str, name: str) -> str:
    """A service's template shipped in its package (``<package>/templates/<name>``), read
    once per process (templates change only with a release)."""
    return files(package).joinpath(f"templates/{name}").read_text("utf-8")
