"""Comments in Markdown: rendered once, on the server, to HTML that is safe by construction.

Two layers, each enough on its own for the common attacks:

1. markdown-it-py's CommonMark preset with raw HTML **off**: whatever a user types as HTML
   (``<script>``, ``<img onerror>``) comes out as escaped text, and markdown-it refuses
   ``javascript:``/``vbscript:``/``file:`` link targets.
2. nh3 (the ammonia sanitiser) with an allow-list of tags and attributes: only the markup
   the Markdown subset produces survives, links only to http(s) and mailto, with
   ``rel="noopener noreferrer nofollow"``; anything else is dropped.

Line breaks work as in a chat (``breaks``): a single newline is a line break, not a space.
Images are not shown (no remote content in a ticket page or a mail): ``![alt](url)`` becomes
a link to the image. Bare URLs are not linked (that needs linkify-it-py); ``<https://...>``
and ``[text](https://...)`` are.

``markdown_to_text`` gives the same comment as plain text for mails' text parts and PDFs:
no Markdown markers, no HTML; lists keep their bullets and numbers, links their address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["ALLOWED_TAGS", "LINK_REL", "markdown_to_text", "render_markdown"]

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "hr", "a",
        "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


def _image_as_link(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """``![alt](url)`` as a link to the image with its alt text (no remote content shown)."""
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env) or str(
        token.attrGet("src") or ""
    )
    src = token.attrGet("src")
    return f'<a href="{escapeHtml(str(src))}">{escapeHtml(alt)}</a>' if src else ""


def _allowed_link(url: str) -> bool:
    """Only absolute http(s) and mailto targets become links; anything else (relative,
    javascript:, data:) stays the text the user typed."""
    scheme, colon, rest = url.strip().partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in URL_SCHEMES:
        return False
    return bool(rest) if scheme == "mailto" else rest.startswith("//") and len(rest) > 2


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True})
    parser.validateLink = _allowed_link  # type: ignore[method-assign]
    parser.add_render_rule("image", _image_as_link)
    return parser


_PARSER = _parser()
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    # Never reached with raw HTML off; kept so that a future change cannot let them through.
    clean_content_tags={"script", "style"},
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    # A relative link means nothing in a mail and could point inside the app: dropped.
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)


def render_markdown(text: str) -> str:
    """The comment's Markdown as sanitised HTML (an HTML fragment, no trailing newline)."""
    if not text:
        return ""
    return _CLEANER.clean(_PARSER.render(text)).strip()


def markdown_to_text(text: str) -> str:
    """The comment as plain text: the words, list bullets and numbers, quotes marked with
    ``> ``, links as ``text (address)``; no emphasis markers, no HTML."""
    if not text:
        return ""
    tree = SyntaxTreeNode(_PARSER.parse(text))
    return _blocks(tree.children).strip("\n")


def _blocks(nodes: Sequence[SyntaxTreeNode], *, tight: bool = False) -> str:
    parts = [_block(node, tight=tight) for node in nodes]
    return ("\n" if tight else "\n\n").join(part for part in parts if part)


def _block(node: SyntaxTreeNode, *, tight: bool) -> str:
    kind = node.type
    if kind in ("paragraph", "heading"):
        return "".join(_inline(child) for child in node.children)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node)
    if kind == "blockquote":
        inner = _blocks(node.children)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("code_block", "fence"):
        return node.content.rstrip("\n")
    if kind == "hr":
        return "———"
    if kind == "inline":
        return "".join(_inline(child) for child in node.children)
    return _blocks(node.children, tight=tight)


def _list(node: SyntaxTreeNode) -> str:
    ordered = node.type == "ordered_list"
    start = int(str(node.attrs.get("start", 1))) if ordered else 1
    # A tight list (no blank lines between items) hides its paragraphs' spacing.
    tight = any(
        child.type == "paragraph" and child.hidden
        for item in node.children
        for child in item.children
    )
    items: list[str] = []
    for number, item in enumerate(node.children, start=start):
        marker = f"{number}. " if ordered else "- "
        indent = " " * len(marker)
        first, *rest = _blocks(item.children, tight=tight).split("\n")
        items.append("\n".join([marker + first, *(indent + line if line else "" for line in rest)]))
    return ("\n" if tight else "\n\n").join(items)


def _inline(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind in ("text", "code_inline"):
        return node.content
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "link":
        label = "".join(_inline(child) for child in node.children)
        return _with_address(label, node.attrs.get("href"))
    if kind == "image":
        label = "".join(_inline(child) for child in node.children)
        return _with_address(label, node.attrs.get("src"))
    return "".join(_inline(child) for child in node.children)


def _with_address(label: str, address: Any) -> str:
    url = str(address or "")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in URL_SCHEMES:
        return label  # an address that the HTML would not link either
    shown = url.removeprefix("mailto:") if scheme == "mailto" else url
    return label if label in (url, shown) else f"{label} ({shown})"
