"""Comments in Markdown: the exact HTML that hostile and ordinary input becomes, and the
plain text for mails and PDFs."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from helpdesk_common.markdown import ALLOWED_TAGS, markdown_to_text, render_markdown

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("", ""),
        ("plain words", "<p>plain words</p>"),
        ("**bold** and _italic_", "<p><strong>bold</strong> and <em>italic</em></p>"),
        # Line breaks as in a chat: one newline is a break, a blank line a new paragraph.
        ("line one\nline two\n\nnext", "<p>line one<br>\nline two</p>\n<p>next</p>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
        ("use `pip -U`", "<p>use <code>pip -U</code></p>"),
        # The fence's language class is not on the allow-list.
        ("```sh\nrm -rf /tmp/x\n```", "<pre><code>rm -rf /tmp/x\n</code></pre>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        (
            "[site](https://example.go.id/a?b=1&c=2)",
            f'<p><a href="https://example.go.id/a?b=1&amp;c=2" {REL}>site</a></p>',
        ),
        (
            "<https://example.go.id>",
            f'<p><a href="https://example.go.id" {REL}>https://example.go.id</a></p>',
        ),
        (
            "[mail](mailto:it@example.go.id)",
            f'<p><a href="mailto:it@example.go.id" {REL}>mail</a></p>',
        ),
        ('[t](https://e.com "tip")', f'<p><a href="https://e.com" title="tip" {REL}>t</a></p>'),
    ],
)
def test_markdown_renders_the_subset(source: str, html: str) -> None:
    assert render_markdown(source) == html


@pytest.mark.parametrize(
    ("source", "html"),
    [
        # Raw HTML is text, never markup.
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"),
        (
            "<style>body{display:none}</style>",
            "<p>&lt;style&gt;body{display:none}&lt;/style&gt;</p>",
        ),
        (
            '<iframe src="https://evil.example"></iframe>',
            '<p>&lt;iframe src="https://evil.example"&gt;&lt;/iframe&gt;</p>',
        ),
        (
            '<a href="javascript:alert(1)">x</a>',
            '<p>&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;</p>',
        ),
        ("<!-- hidden -->visible", "<p>&lt;!-- hidden --&gt;visible</p>"),
        # Links to anything but http(s)/mailto stay the text typed.
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>"),
        ("[x](&#106;avascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
        ("[x](jav&#x09;ascript:alert(1))", "<p>[x](jav\tascript:alert(1))</p>"),
        ("[x](vbscript:msgbox(1))", "<p>[x](vbscript:msgbox(1))</p>"),
        (
            "[x](data:text/html,<script>alert(1)</script>)",
            "<p>[x](data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;)</p>",
        ),
        ("[x](https:javascript:alert(1))", "<p>[x](https:javascript:alert(1))</p>"),
        ("[x](/relative/path)", "<p>[x](/relative/path)</p>"),
        ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
        # Images are never loaded: a link to the image, or the text when the address is bad.
        ("![shot](https://e.com/a.png)", f'<p><a href="https://e.com/a.png" {REL}>shot</a></p>'),
        ("![x](data:image/png;base64,AAAA)", "<p>![x](data:image/png;base64,AAAA)</p>"),
        ("![x](javascript:alert(1))", "<p>![x](javascript:alert(1))</p>"),
        # Quotes cannot break out of the attribute; markup in a label stays text.
        (
            '[x](https://e.com/"onmouseover="alert(1))',
            f'<p><a href="https://e.com/%22onmouseover=%22alert(1)" {REL}>x</a></p>',
        ),
        ("[<script>](https://e.com)", f'<p><a href="https://e.com" {REL}>&lt;script&gt;</a></p>'),
        (
            '![a"onerror="alert(1)](https://e.com/i.png)',
            f'<p><a href="https://e.com/i.png" {REL}>a"onerror="alert(1)</a></p>',
        ),
        # Entities: decoded once and escaped again, never turned into markup.
        ("&lt;script&gt; &amp; &copy; &#60;b&#62;", "<p>&lt;script&gt; &amp; © &lt;b&gt;</p>"),
        (
            "`<script>alert(1)</script>`",
            "<p><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></p>",
        ),
        # Nested tricks: a tag split by emphasis, a script inside a list inside a quote.
        (
            "<scr**ipt**>alert(1)</script>",
            "<p>&lt;scr<strong>ipt</strong>&gt;alert(1)&lt;/script&gt;</p>",
        ),
        (
            "> - <script>x</script>",
            "<blockquote>\n<ul>\n<li>&lt;script&gt;x&lt;/script&gt;</li>\n</ul>\n</blockquote>",
        ),
        ("**[x](javascript:alert(1))**", "<p><strong>[x](javascript:alert(1))</strong></p>"),
    ],
)
def test_hostile_input_comes_out_inert(source: str, html: str) -> None:
    assert render_markdown(source) == html


def test_only_allowed_tags_and_attributes_survive() -> None:
    hostile = "\n".join(
        [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[a](javascript:alert(1)) [b](https://ok.example) ![c](https://img.example/c.png)",
            "<svg onload=alert(1)>",
            "> <iframe src=//evil>",
            "- <style>*{}</style>",
        ]
    )
    markup = _Markup()
    markup.feed(render_markdown(hostile))
    assert markup.tags <= ALLOWED_TAGS
    assert markup.tags == {"p", "br", "a", "blockquote", "ul", "li"}
    assert markup.attributes == {
        ("href", "https://ok.example"),
        ("href", "https://img.example/c.png"),
        ("rel", "noopener noreferrer nofollow"),
    }


class _Markup(HTMLParser):
    """The elements and attributes of an HTML fragment, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[tuple[str, str | None]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(attrs)


def test_very_long_and_deeply_nested_input_stays_fast_and_bounded() -> None:
    started = time.perf_counter()
    nested = render_markdown(">" * 10_000 + " deep")
    brackets = render_markdown("[" * 10_000)
    emphasis = render_markdown("**a" * 3_000)
    long_text = render_markdown("x" * 100_000)
    assert time.perf_counter() - started < 5
    # markdown-it's nesting limit: at most 20 levels, the rest stays text.
    assert nested.count("<blockquote>") <= 20
    assert brackets == "<p>" + "[" * 10_000 + "</p>"
    assert emphasis.startswith("<p><strong>a</strong>a<strong>a</strong>")
    assert long_text == "<p>" + "x" * 100_000 + "</p>"


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("", ""),
        ("**bold** and _italic_ and `code`", "bold and italic and code"),
        ("line one\nline two\n\nnext", "line one\nline two\n\nnext"),
        ("- a\n- b\n  - c\n\n1. x\n2. y", "- a\n- b\n  - c\n\n1. x\n2. y"),
        ("[site](https://e.com) and <https://e.com>", "site (https://e.com) and https://e.com"),
        ("[mail](mailto:it@example.go.id)", "mail (it@example.go.id)"),
        ("![shot](https://e.com/a.png)", "shot (https://e.com/a.png)"),
        ("> quoted\n> more", "> quoted\n> more"),
        ("# Heading\n\n---\n\n```\ncode  kept\n```", "Heading\n\n———\n\ncode  kept"),
        ("&amp; &lt;b&gt;", "& <b>"),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ],
)
def test_markdown_to_text(source: str, text: str) -> None:
    assert markdown_to_text(source) == text
