"""Paging on the web's lists over real HTTP on the local platform: the leaderboard, an agent's
matches and my matches, a page at a time through `?page=` links that follow the API's order.

The matchmaker keeps playing while the test reads, so each comparison is made on a quiet moment:
the API's list read before and after the pages, the same both times."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TypeVar

from tests.e2e.test_web_app import FIRST_LEGAL
from tests.e2e.test_web_pages import Browser
from tests.support.running_platform import RunningPlatform, active_agent, eventually

GAME = "connect-four"
NEXT = re.compile(r'<a href="([^"]*)" rel="next">Next</a>')
PREVIOUS = re.compile(r'<a href="([^"]*)" rel="prev">Previous</a>')
MATCH_LINK = re.compile(r'href="/matches/([0-9a-f-]{36})"')
RANK_CELL = re.compile(r"<tr><td>(\d+)</td><td><a href=\"/agents/([0-9a-f-]{36})\"")

T = TypeVar("T")


def while_quiet(api: Callable[[], object], web: Callable[[], T]) -> tuple[object, T]:
    """What the API lists and what the web showed meanwhile, once the API's list did not change."""
    for _ in range(20):
        before = api()
        shown = web()
        if api() == before:
            return before, shown
    raise AssertionError("the list never held still long enough to compare")


def test_the_lists_page_through_what_the_api_holds(local_platform: RunningPlatform) -> None:
    names = [f"pg{uuid.uuid4().hex[:6]}" for _ in range(3)]
    ids = [active_agent(local_platform, name, FIRST_LEGAL, GAME)[1] for name in names]
    browser = Browser(local_platform.base_url)

    def board() -> list[tuple[int, str]]:
        listed = local_platform.request("GET", f"/api/v1/leaderboard/environment/{GAME}?limit=100").body
        return [(a["rank"], a["id"]) for a in listed["leaderboard"]]

    def board_by_pages() -> list[tuple[int, str]]:
        """The leaderboard one agent a page, following the Next links to the end."""
        seen: list[tuple[int, str]] = []
        path = f"/games/{GAME}?pageSize=1"
        for number in range(1, 4):
            page = browser.open(path)
            assert page.status == 200 and f"Page {number} of 3" in page.text, page.text
            seen += [(int(rank), agent) for rank, agent in RANK_CELL.findall(page.text)]
            following = NEXT.search(page.text)
            if number == 3:
                assert following is None and PREVIOUS.search(page.text) is not None
                return seen
            assert following is not None
            path = f"/games/{GAME}{following.group(1).replace('&amp;', '&')}"
        return seen

    listed, shown = while_quiet(board, board_by_pages)
    assert shown == listed and sorted(agent for _, agent in shown) == sorted(ids)
    assert "No agents on this page." in browser.open(f"/games/{GAME}?pageSize=1&page=9").text

    # An agent's matches and the owner's own, one a page, newest first as the API lists them.
    def matches_of_first() -> list[str]:
        listed = local_platform.request("GET", f"/api/v1/matches/agent/{ids[0]}?pageSize=100").body
        return [m["id"] for m in listed["matches"]]

    eventually(lambda: len(matches_of_first()) >= 2, 120, "two matches of the first agent")

    def agent_pages() -> tuple[list[str], list[str]]:
        first, second = (browser.open(f"/agents/{ids[0]}?pageSize=1&page={n}").text for n in (1, 2))
        counts = [re.findall(r"Page (\d+) of (\d+)", text)[-1][1] for text in (first, second)]
        return [MATCH_LINK.findall(first)[0], MATCH_LINK.findall(second)[0]], counts

    listed, (pages, counts) = while_quiet(matches_of_first, agent_pages)
    assert isinstance(listed, list) and pages == listed[:2]
    assert counts == [str(len(listed))] * 2  # fewer than 100 matches: the API's list is all of them

    owner = Browser(local_platform.base_url)
    assert owner.open("/login", {"email": names[0], "password": "long enough"}).url.endswith("/me")

    def my_pages() -> list[str]:
        return [MATCH_LINK.findall(owner.open(f"/me?pageSize=1&page={n}").text)[0] for n in (1, 2)]

    listed, mine = while_quiet(matches_of_first, my_pages)
    assert isinstance(listed, list) and mine == listed[:2]
    mine_page = owner.open("/me").text
    assert "My recent matches" in mine_page and "<td>v1 in play</td>" in mine_page
