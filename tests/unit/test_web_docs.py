"""The /docs page: docs/agents.md as the web function ships it, rendered with its table of contents."""

from __future__ import annotations

from pathlib import Path

from rlarena.web.docs_page import agent_docs, docs_page, render, shipped_text

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_copy_is_docs_agents_md_run_make_docs_when_this_fails() -> None:
    assert shipped_text() == (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")


def test_the_page_has_the_documents_headings_code_blocks_and_a_contents_list() -> None:
    html = docs_page(user=None)
    assert "<h1>Writing an agent</h1>" in html
    assert '<h2 id="the-agent">The agent</h2>' in html
    assert '<a href="#coming-from-kaggle-or-the-old-rl-arena">Coming from Kaggle or the old rl-arena</a>' in html
    assert '<pre><code class="language-python">' in html
    assert html.count("<h1") == 1
    assert len(agent_docs().headings) >= 10


def test_raw_html_in_the_markdown_is_shown_as_text() -> None:
    doc = render("# T\n\n<script>alert(1)</script>\n\nsee <img src=x onerror=alert(1)> and `<b>`\n")
    assert "<script>" not in doc.body and "<img" not in doc.body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in doc.body
    assert "<code>&lt;b&gt;</code>" in doc.body


def test_repeated_headings_get_distinct_anchors() -> None:
    doc = render("## Rules\n\n## Rules\n")
    assert [h.anchor for h in doc.headings] == ["rules", "rules-1"]
