"""The frame every page shares: head, navigation, main content."""

from __future__ import annotations

from rlarena.web.markup import Html, tag, void


def page(
    title: str,
    content: Html,
    *,
    user: str | None = None,
    status_note: Html | None = None,
    extra_head: Html | None = None,
) -> Html:
    """`extra_head`: more of the page's head (a stylesheet of its own)."""
    signed_in = (
        [
            tag("a", "My agents", href="/me"),
            tag("form", tag("button", "Log out", type="submit"), method="post", action="/logout", class_="inline"),
        ]
        if user
        else [tag("a", "Log in", href="/login"), tag("a", "Sign up", href="/signup")]
    )
    nav = tag(
        "nav",
        tag("a", "RL Arena", href="/", class_="brand"),
        tag("a", "Docs", href="/docs"),
        tag("a", "API", href="/api/v1/docs"),
        *signed_in,
        aria_label="Main",
    )
    head = tag(
        "head",
        void("meta", charset="utf-8"),
        void("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("title", f"{title} · RL Arena"),
        void("link", rel="icon", href="data:,"),  # no favicon: nor a request for one
        extra_head or "",
        void("link", rel="stylesheet", href="/assets/style.css"),
        tag("script", src="/assets/app.js", defer=True),
    )
    body = tag("body", tag("header", nav), tag("main", status_note or "", tag("h1", title), content, id="main"))
    return Html("<!doctype html>" + tag("html", head, body, lang="en"))
