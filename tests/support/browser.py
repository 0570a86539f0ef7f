"""A real browser for the web tests: Debian's chromium driven by Playwright (sync API).

A pytest plugin (tests/conftest.py loads it): the module-scoped `chromium` fixture launches
/usr/bin/chromium once per test module (Playwright cannot download its own browser here; .ci/run
installs Debian's), and the `page` fixture opens a fresh context and page for one test, records every
console error and page error, and fails the test if any happened. `screenshot(page, name)` writes
a PNG under .artifacts/screenshots/<test>/ (gitignored) and prints where.

    def test_something(page: Page) -> None:
        page.goto(url)
        screenshot(page, "home")
        assert_no_browser_errors(page)  # optional mid-test; the fixture checks again at the end
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
# Generous for the 2-core CI machine, short enough that a missing element fails in seconds.
TIMEOUT_MS = 10_000

# The errors each open page recorded, by the page's identity (a Page holds no attributes of ours).
_ERRORS: dict[int, list[str]] = {}


# Per module, not per session: while Playwright's sync API runs, its event loop counts as the
# running loop of the main thread, and every later asyncio test (pytest-asyncio, asyncio.run) would
# fail with "cannot be called from a running event loop". Stopping it clears that.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh page in its own context; the test fails on any console error or page error."""
    context = chromium.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    _ERRORS[id(opened)] = errors

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    try:
        yield opened
        assert_no_browser_errors(opened)
    finally:
        _ERRORS.pop(id(opened), None)
        context.close()


def browser_errors(page: Page) -> list[str]:
    """The console errors and page errors the page recorded so far."""
    return list(_ERRORS.get(id(page), []))


def take_browser_errors(page: Page) -> list[str]:
    """The errors recorded so far, forgotten: for a test that provokes one on purpose."""
    errors = _ERRORS.get(id(page), [])
    taken = list(errors)
    errors.clear()
    return taken


def assert_no_browser_errors(page: Page) -> None:
    errors = browser_errors(page)
    if errors:
        pytest.fail("the browser reported errors:\n" + "\n".join(errors))


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the page shows now, under .artifacts/screenshots/<test>/<name>.png."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "outside-a-test").split(" ")[0]
    folder = SCREENSHOTS / _safe(test)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "page"
