"""The browser kit itself (tests/support/browser.py): chromium renders pages and catches their errors."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.support.browser import browser_errors, screenshot, take_browser_errors


def test_chromium_renders_a_page_and_records_its_errors(page: Page) -> None:
    page.set_content("<title>kit</title><p id=hello>hello</p>")
    assert page.locator("#hello").inner_text() == "hello"
    assert browser_errors(page) == []
    path = screenshot(page, "hello")
    assert path.read_bytes().startswith(b"\x89PNG")

    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('boom'); })")
    with page.expect_event("console"):
        page.evaluate("console.error('bad thing')")
    errors = take_browser_errors(page)
    assert any("page error" in error and "boom" in error for error in errors), errors
    assert any("console error: bad thing" in error for error in errors), errors
    assert browser_errors(page) == []
