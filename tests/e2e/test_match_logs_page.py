"""An owner sees their own agent's log lines beside the replay, following the slider; nobody else does.

A real match on the local platform between two chatty agents of two users: the logs route gives each
owner their own agent's lines with the frame each was printed for and refuses everyone else; the
match page (chromium) shows the owner's lines up to the current turn, marks the current turn's, and
shows no log at all to a viewer who owns neither agent.
"""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.browser import screenshot
from tests.support.running_platform import RunningPlatform, active_agent, eventually

PASSWORD = "long enough"  # active_agent's


def chatty(secret: str) -> bytes:
    return f"""
import sys

def agent(observation, configuration):
    print("turn", configuration["step"], "{secret}", file=sys.stderr)
    return observation["action_mask"].index(1)
""".encode()


def played(arena: RunningPlatform, token: str, agent1: str, agent2: str) -> dict[str, Any]:
    started = arena.request("POST", "/api/v1/matches", {"agent1Id": agent1, "agent2Id": agent2}, token)
    assert started.status == 202, started.body
    match_id = started.body["match"]["id"]

    def ended() -> dict[str, Any] | None:
        match: dict[str, Any] = arena.request("GET", f"/api/v1/matches/{match_id}").body["match"]
        return match if match["status"] in ("completed", "failed") else None

    match: dict[str, Any] = eventually(ended, 120, f"match {match_id}")
    assert match["status"] == "completed" and match["replayUrl"], match
    return match


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email or username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My agents")).to_be_visible()


def test_owners_read_their_own_lines_by_frame_and_only_theirs(page: Page, local_platform: RunningPlatform) -> None:
    arena, base = local_platform, local_platform.base_url
    tag = uuid.uuid4().hex[:6]
    ann, bob, eve = f"ann{tag}", f"bob{tag}", f"eve{tag}"
    ann_token, ann_agent = active_agent(arena, ann, chatty("ann-says"))
    bob_token, bob_agent = active_agent(arena, bob, chatty("bob-secret"))
    eve_token, _ = active_agent(arena, eve, chatty("eve-says"))
    match = played(arena, ann_token, ann_agent, bob_agent)
    path = f"/api/v1/matches/{match['id']}/logs"
    frames = arena.request("GET", f"/api/v1/matches/{match['id']}/replay").body["frames"]

    # The API: each owner gets their own agent's lines, each with the frame of the move it was printed for.
    mine = arena.request("GET", path, token=ann_token)
    assert mine.status == 200, mine.body
    [entry] = mine.body["logs"]
    assert entry["agentId"] == ann_agent and "ann-says" in entry["logs"] and "bob-secret" not in str(mine.body)
    player = 0 if match["agent1Id"] == ann_agent else 1
    moved = [n for n in range(1, len(frames)) if frames[n]["actions"][player] is not None]
    assert entry["lines"] == [{"frame": n, "text": f"turn {n - 1} ann-says"} for n in moved]
    theirs = arena.request("GET", path, token=bob_token).body["logs"]
    assert [e["agentId"] for e in theirs] == [bob_agent] and "ann-says" not in str(theirs)
    assert arena.request("GET", path, token=eve_token).status == 403
    assert arena.request("GET", path).status == 401

    # The page, as the owner: the lines up to the current turn, the current turn's marked.
    log_in(page, base, ann)
    page.goto(f"{base}/matches/{match['id']}")
    log = page.locator(f'[data-role="logs"] [data-agent-log="{ann_agent}"]')
    expect(log).to_be_visible()
    expect(page.locator('[data-role="logs"] [data-agent-log]')).to_have_count(1)
    turn = moved[1]  # the owner's second move
    page.locator('[data-control="seek"]').fill(str(turn))
    expect(page.locator('[data-role="board"]')).to_have_attribute("data-turn", str(turn))
    expect(log.locator("li[data-current]")).to_have_text(f"turn {turn - 1} ann-says")
    expect(log.locator("li[data-frame]")).to_have_text([f"turn {n - 1} ann-says" for n in moved if n <= turn])
    screenshot(page, "owner-at-turn")
    page.get_by_role("button", name="Step back").click()
    expect(page.locator('[data-role="board"]')).to_have_attribute("data-turn", str(turn - 1))
    expect(log.locator("li[data-current]")).to_have_count(0)
    expect(log.locator("li[data-frame]")).to_have_text([f"turn {n - 1} ann-says" for n in moved if n < turn])
    page.locator('[data-control="seek"]').fill(str(len(frames) - 1))
    expect(log.locator("li[data-frame]")).to_have_count(len(moved))
    assert "bob-secret" not in page.content()
    screenshot(page, "owner-at-end")

    # A viewer who owns neither agent: the replay, and no log at all.
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, eve)
    page.goto(f"{base}/matches/{match['id']}")
    expect(page.locator('[data-role="board"]')).to_be_attached()
    expect(page.locator('[data-role="logs"]')).to_have_count(0)
    assert "ann-says" not in page.content() and "bob-secret" not in page.content()
    screenshot(page, "outsider")
