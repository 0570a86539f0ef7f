"""Error texts are capped visibly at 10,000 characters."""

from __future__ import annotations

from rlarena.domain.texts import ERROR_TEXT_CAP, cap_optional, cap_text


def test_short_texts_are_kept_whole() -> None:
    assert cap_text("boom") == "boom"
    assert cap_text("x" * ERROR_TEXT_CAP) == "x" * ERROR_TEXT_CAP
    assert cap_optional(None) is None


def test_a_long_text_keeps_its_beginning_and_says_how_much_was_cut() -> None:
    text = "RuntimeError: " + "y" * 300_000
    capped = cap_text(text)
    assert len(capped) <= ERROR_TEXT_CAP
    assert capped.startswith("RuntimeError: yyy")
    kept, marker = capped.rsplit("\n", 1)
    cut = int(marker.removeprefix("[... ").removesuffix(" more characters cut]").replace(",", ""))
    assert len(kept) + cut == len(text)


def test_a_tiny_limit_is_a_plain_cut() -> None:
    assert cap_text("abcdefgh", limit=3) == "abc"
