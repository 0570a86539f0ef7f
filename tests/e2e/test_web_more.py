"""More of the web app in chromium on the local platform: /docs, a leaderboard that updates live,
and an agent's page for its owner without JavaScript (upload, build logs, activate, rebuild) with
its rating chart. Each page visited is saved as a screenshot; any console or page error fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.test_web_app import FIRST_LEGAL, completed_match, sign_up
from tests.support.browser import assert_no_browser_errors, screenshot
from tests.support.running_platform import RunningPlatform, active_agent

LIVE_TIMEOUT_MS = 60_000
CRASHING_AGENT = b"raise ValueError('broken on purpose')\n"


@pytest.fixture
def page_without_javascript(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 800})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_the_docs_page_renders_the_agent_interface_with_its_contents(
    page: Page, local_platform: RunningPlatform
) -> None:
    page.goto(f"{local_platform.base_url}/")
    page.get_by_role("link", name="Docs").click()
    expect(page.get_by_role("heading", level=1, name="Writing an agent")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="Errors, timeouts and illegal moves")).to_be_visible()
    expect(page.locator("article.doc pre code").first).to_contain_text("def agent(")
    page.get_by_role("navigation", name="Contents").get_by_role("link", name="Tic-Tac-Toe").click()
    assert page.url.endswith("#tic-tac-toe")
    screenshot(page, "docs")


def test_the_leaderboard_shows_a_rated_match_without_a_reload_and_the_agent_page_charts_it(
    page: Page, local_platform: RunningPlatform
) -> None:
    base = local_platform.base_url
    sign_up(page, base, f"fan{uuid.uuid4().hex[:6]}")  # the relay serves signed-in viewers (unless anonymous is on)
    page.goto(f"{base}/games/connect-four")
    board = page.locator("table.leaderboard")
    expect(board).to_have_attribute("data-live", "connected")
    page.evaluate("window.notReloaded = true")

    first = f"live{uuid.uuid4().hex[:6]}"
    _, agent_id = active_agent(local_platform, first, FIRST_LEGAL, "connect-four")
    active_agent(local_platform, f"rival{uuid.uuid4().hex[:6]}", FIRST_LEGAL, "connect-four")
    row = board.locator("tr", has=page.get_by_role("link", name=f"{first}-bot"))
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)  # activated: on the board
    completed_match(local_platform, agent_id)

    def shown_as_rated() -> bool:
        """The row shows the Elo the API holds now, after at least one rated match."""
        elo = local_platform.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]["elo"]
        history = local_platform.request("GET", f"/api/v1/agents/{agent_id}/rating-history").body["total"]
        return bool(history) and row.locator("td").nth(3).inner_text() == str(elo)

    for _ in range(120):
        if shown_as_rated():
            break
        page.wait_for_timeout(500)
    else:
        pytest.fail(f"the open leaderboard never showed the rated Elo: {row.inner_text()}")
    expect(row.locator("td").nth(5)).not_to_have_text("0-0-0")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "leaderboard-live")

    page.goto(f"{base}/agents/{agent_id}")
    chart = page.locator("svg#rating-chart")
    expect(chart).to_be_visible()
    assert chart.locator("circle").count() >= 2
    expect(chart.locator("polyline")).to_be_visible()  # drawn, not swallowed by an unclosed element
    expect(chart.locator("circle").last).to_be_visible()
    assert "Elo over the last" in (chart.get_attribute("aria-label") or "")
    screenshot(page, "agent-chart")
    assert_no_browser_errors(page)


def test_an_owner_uploads_reads_build_logs_activates_and_rebuilds_without_javascript(
    page_without_javascript: Page, local_platform: RunningPlatform, tmp_path: Path
) -> None:
    page, base = page_without_javascript, local_platform.base_url
    name = f"nojs{uuid.uuid4().hex[:6]}"
    sign_up(page, base, name)
    page.get_by_label("Name").fill(f"{name}-bot")
    page.get_by_label("Game").select_option("tic-tac-toe")
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("heading", name=f"{name}-bot")).to_be_visible()
    agent_url = page.url

    def upload(code: bytes, version: int, status: str) -> None:
        source = tmp_path / f"v{version}.py"
        source.write_bytes(code)
        page.get_by_label("Agent file (.py, .zip or .tar.gz)").set_input_files(str(source))
        page.get_by_role("button", name="Upload").click()
        assert page.url == agent_url  # back on the agent's page
        cell = page.locator("#versions tr", has_text=f"v{version}").locator(".build-status")
        expect(cell).to_be_visible()
        for _ in range(120):
            if cell.inner_text() == status:
                return
            page.wait_for_timeout(500)
            page.reload()
        pytest.fail(f"v{version} never became {status}: {cell.inner_text()}")

    upload(FIRST_LEGAL, 1, "active")
    upload(FIRST_LEGAL + b"\n# two\n", 2, "active")
    page.get_by_text("Build log of v1").click()
    expect(page.locator("#versions tr", has_text="v1").locator("details pre")).to_be_visible()
    screenshot(page, "versions")

    page.get_by_role("button", name="Activate v1").click()
    expect(page.locator("#versions tr", has_text="v1").locator(".note")).to_have_text("active version")
    expect(page.get_by_role("button", name="Activate v2")).to_be_visible()

    upload(CRASHING_AGENT, 3, "failed")
    page.get_by_text("Build log of v3").click()
    expect(page.locator("#versions tr", has_text="v3").locator("details pre")).to_contain_text("broken on purpose")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "rlarena_token")
    versions = f"/api/v1/submissions/agent/{agent_url.rsplit('/', 1)[1]}"
    page.get_by_role("button", name="Rebuild v3").click()
    assert page.url == agent_url
    third = next(
        s for s in local_platform.request("GET", versions, token=token).body["submissions"] if s["version"] == 3
    )
    assert third["retryCount"] == 1
    screenshot(page, "rebuild")
