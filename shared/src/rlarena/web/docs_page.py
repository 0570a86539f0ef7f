"""`/docs`: docs/agents.md as HTML with a table of contents, then the API's operations.

The web function ships its own copy (rlarena/web/content/agents.md, written by `make docs` beside
docs/agents.md; a unit test fails when the two differ). markdown-it-py is imported on the first
visit only (cold start), raw HTML in the Markdown is shown as text, never inserted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise

from rlarena.web.layout import page
from rlarena.web.markup import Html, join, tag

SHIPPED = ("content", "agents.md")


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    anchor: str


@dataclass(frozen=True)
class RenderedDoc:
    title: str
    headings: tuple[Heading, ...]
    body: Html


def shipped_text() -> str:
    return resources.files("rlarena.web").joinpath(*SHIPPED).read_text(encoding="utf-8")


def anchor_of(title: str) -> str:
    """GitHub's heading anchors (lower case, punctuation dropped, spaces to dashes), so links in the file work."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def render(text: str) -> RenderedDoc:
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = markdown.parse(text)
    headings: list[Heading] = []
    seen: dict[str, int] = {}
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        anchor = anchor_of(inline.content)
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        anchor = f"{anchor}-{count}" if count else anchor
        opening.attrSet("id", anchor)
        headings.append(Heading(int(opening.tag[1:]), inline.content, anchor))
    title = next((h.title for h in headings if h.level == 1), "Writing an agent")
    first = next((i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1"), None)
    if first is not None:  # the page's own h1 says it
        del tokens[first : first + 3]
    body = Html(markdown.renderer.render(tokens, markdown.options, {}))
    return RenderedDoc(title, tuple(h for h in headings if h.level > 1), body)


@cache
def agent_docs() -> RenderedDoc:
    return render(shipped_text())


def contents(headings: tuple[Heading, ...]) -> Html:
    items = [
        tag("li", tag("a", h.title, href=f"#{h.anchor}"), class_="toc-sub" if h.level > 2 else None)
        for h in headings
        if h.level <= 3
    ]
    items.append(tag("li", tag("a", "API reference", href="#api-reference")))
    return tag("nav", tag("h2", "Contents"), tag("ul", *items), aria_label="Contents", class_="toc")


def docs_page(*, user: str | None) -> Html:
    """The agent interface (docs/agents.md), then the API reference: every operation of the REST API."""
    from rlarena.web.api_reference import operations_section

    doc = agent_docs()
    parts = [contents(doc.headings), tag("article", doc.body, class_="doc"), operations_section()]
    return page(doc.title, join(parts), user=user)
