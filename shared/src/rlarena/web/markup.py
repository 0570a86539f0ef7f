"""Escaped HTML built by plain functions: no template engine to import or compile (cold start).

Every value that reaches a page goes through `text` (or `attr`); only `Html` is trusted as markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape


class Html(str):
    """Markup already escaped (or written by us): inserted as is."""


def text(value: object) -> Html:
    """Any value as HTML text: `<script>` is shown, never run."""
    if isinstance(value, Html):
        return value
    return Html(escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    return Html("".join(text(part) for part in parts))


def tag(name: str, /, *children: object, **attributes: object) -> Html:
    """`<name attr="...">children</name>`; `class_` is `class`, `data_x` is `data-x`; None or False leaves it out."""
    rendered = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        name_of = key.rstrip("_").replace("_", "-")
        rendered.append(f" {name_of}" if value is True else f' {name_of}="{text(value)}"')
    return Html(f"<{name}{''.join(rendered)}>{join(children)}</{name}>")


def void(name: str, /, **attributes: object) -> Html:
    """An element without content (`input`, `meta`, `link`)."""
    return Html(tag(name, **attributes).removesuffix(f"</{name}>"))
