"""The web app in a real browser (chromium) on the local platform: from signing up to a match's replay.

Every step goes through the pages as a person would (labelled fields, buttons); the build status
turns active on the agent page over the WebSocket without a reload. The `page` fixture fails the
test on any console or page error; each page visited is saved as a screenshot.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.browser import screenshot, take_browser_errors
from tests.support.running_platform import RunningPlatform, active_agent, eventually, matches

PASSWORD = "a-long-password"
LIVE_TIMEOUT_MS = 30_000
FIRST_LEGAL = b"""
def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""


def sign_up(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="My agents")).to_be_visible()


def completed_match(arena: RunningPlatform, agent_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        done = [m for m in matches(arena, agentId=agent_id) if m["status"] == "completed" and m["replayUrl"]]
        return done[0] if done else None

    found: dict[str, Any] = eventually(finished, 60, "a completed match with a replay")
    return found


def test_a_player_signs_up_uploads_watches_the_build_and_opens_a_match(
    page: Page, local_platform: RunningPlatform, tmp_path: Path
) -> None:
    base = local_platform.base_url
    name = f"web{uuid.uuid4().hex[:8]}"
    agent_name = f"<b>{name}</b>"  # markup in a name shows as text

    page.goto(f"{base}/")
    expect(page.get_by_role("link", name="Tic-Tac-Toe")).to_be_visible()
    screenshot(page, "home")

    sign_up(page, base, name)
    screenshot(page, "me")
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base}/login")
    page.get_by_label("Email or username").fill(name)
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    screenshot(page, "login-refused")
    # The refused login is answered with the API's 401, which chromium reports as a failed load.
    assert [e for e in take_browser_errors(page) if "401" not in e] == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My agents")).to_be_visible()

    page.get_by_label("Name").fill(agent_name)
    page.get_by_label("Game").select_option("tic-tac-toe")
    page.get_by_role("button", name="Create agent").click()
    expect(page.get_by_role("heading", name=agent_name)).to_be_visible()
    agent_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#agent")).to_have_attribute("data-live", "connected")
    screenshot(page, "agent-before-upload")

    source = tmp_path / "agent.py"
    source.write_bytes(FIRST_LEGAL)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Agent file (.py, .zip or .tar.gz)").set_input_files(str(source))
    page.get_by_role("button", name="Upload").click()
    status = page.locator("#versions tbody tr .build-status").first
    expect(status).to_have_text("active", timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded") is True  # the status changed in place
    screenshot(page, "agent-active")

    _, rival_id = active_agent(local_platform, f"rival{uuid.uuid4().hex[:6]}", FIRST_LEGAL)
    page.goto(f"{base}/games/tic-tac-toe")
    board = page.locator("table.leaderboard")
    expect(board.get_by_role("link", name=agent_name)).to_be_visible()
    expect(board.get_by_role("cell", name=name, exact=True)).to_be_visible()  # the owner
    screenshot(page, "leaderboard")
    page.get_by_role("link", name="Skill (\u03bc \u00b1 \u03c3)").click()
    expect(page.get_by_role("table")).to_contain_text("sorted by conservative skill")

    played = completed_match(local_platform, agent_id)
    assert rival_id in (played["agent1Id"], played["agent2Id"])
    page.goto(f"{base}/matches/{played['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(agent_name)
    expect(page.get_by_text("End reason:")).to_be_visible()
    expect(page.locator("#replay [data-turn]").first).to_be_attached()
    screenshot(page, "match")

    page.goto(f"{base}/matches/{uuid.uuid4()}")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    screenshot(page, "not-found")
    assert [e for e in take_browser_errors(page) if "404" not in e] == []


def test_the_pages_fit_a_phone_and_can_be_used_from_the_keyboard(page: Page, local_platform: RunningPlatform) -> None:
    base = local_platform.base_url
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/signup", "/login", "/games/tic-tac-toe", "/docs"):
        page.goto(f"{base}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path  # no sideways scrolling
        screenshot(page, f"phone{path.replace('/', '-') or '-home'}")
    page.goto(f"{base}/login")
    page.keyboard.press("Tab")  # the first stop is the brand link, then the navigation, then the form
    focused = [page.evaluate("document.activeElement.textContent || document.activeElement.id")]
    for _ in range(6):  # Docs, API, Log in, Sign up, then the two fields
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert focused[0] == "RL Arena" and "email" in focused and "password" in focused, focused
