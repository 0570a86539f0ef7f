"""Paging on the web's lists: lenient `?page=`, links that keep the rest of the query, the merged
list of my matches."""

from __future__ import annotations

from typing import Any

from rlarena.web.my_matches import recent_matches
from rlarena.web.pages import leaderboard, my_agents
from rlarena.web.paging import Paging, link, number, pager


def test_page_numbers_are_read_leniently_and_capped() -> None:
    assert number({"page": "3"}, "page", 1, 100) == 3
    for raw in ("0", "-2", "two", "", "1e3", "³", "9" * 5000):
        assert number({"page": raw}, "page", 1, 100) == 1, raw
    assert number({"pageSize": "5000"}, "pageSize", 20, 100) == 100
    assert Paging.of({"page": "2", "pageSize": "7"}, 20) == Paging(2, 7)
    assert Paging.of({"history": "4", "pageSize": "7"}, 100, param="history") == Paging(4, 100)


def test_the_count_of_pages_rounds_up_and_is_never_zero() -> None:
    assert Paging(1, 10, 0).pages == 1
    assert Paging(1, 10, 10).pages == 1
    assert Paging(1, 10, 11).pages == 2
    assert Paging(3, 10, 25).offset == 20


def test_links_keep_the_rest_of_the_query_and_page_one_has_no_parameter() -> None:
    assert link({"sort": "elo"}, page=2) == "?sort=elo&page=2"
    assert link({"sort": "elo", "page": "2"}, page=None) == "?sort=elo"
    assert link({}, page=None) == "?"


def test_the_pager_links_previous_and_next_around_where_you_are() -> None:
    middle = pager(Paging(2, 10, 35), {"sort": "conservative", "page": "2"}, "Pages of the board")
    assert 'aria-label="Pages of the board"' in middle and "Page 2 of 4" in middle
    assert 'href="?sort=conservative" rel="prev"' in middle
    assert 'href="?sort=conservative&amp;page=3" rel="next"' in middle
    last = pager(Paging(4, 10, 35), {"page": "4"}, "Pages")
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert pager(Paging(1, 10, 9), {}, "Pages") == ""


def test_the_leaderboard_shows_its_pager_and_says_when_a_page_is_past_the_end() -> None:
    board = [{"rank": 11, "id": "a", "name": "Eleventh", "elo": 1000}]
    html = leaderboard({"id": "pong"}, board, sort="elo", user=None, paging=Paging(2, 10, 11), query={"page": "2"})
    assert "Page 2 of 2" in html and "<td>11</td>" in html
    past = leaderboard({"id": "pong"}, [], sort="elo", user=None, paging=Paging(5, 10, 11), query={"page": "5"})
    assert "No agents on this page." in past


class FakeApi:
    """Each agent's matches, newest first, as GET /api/v1/matches/agent/<id>?pageSize= answers."""

    def __init__(self, by_agent: dict[str, list[dict[str, Any]]]) -> None:
        self.by_agent = by_agent
        self.asked: list[str] = []

    def get(self, path: str) -> dict[str, Any]:
        self.asked.append(path)
        agent_id, _, query = path.removeprefix("/api/v1/matches/agent/").partition("?pageSize=")
        listed = self.by_agent[agent_id]
        return {"matches": listed[: int(query)], "total": len(listed)}


def match(match_id: str, created: str) -> dict[str, Any]:
    return {"id": match_id, "createdAt": created, "agent1Name": "a", "agent2Name": "b", "status": "completed"}


def test_my_matches_merge_every_agents_newest_first_and_count_a_match_of_two_of_mine_once() -> None:
    shared = match("m-shared", "2026-01-03T00:00:00Z")
    api = FakeApi(
        {
            "a1": [match("m4", "2026-01-04T00:00:00Z"), shared, match("m1", "2026-01-01T00:00:00Z")],
            "a2": [shared, match("m2", "2026-01-02T00:00:00Z")],
        }
    )
    agents = [{"id": "a1"}, {"id": "a2"}]
    first, paging = recent_matches(api, agents, Paging(1, 2))
    second, _ = recent_matches(api, agents, Paging(2, 2))
    assert [m["id"] for m in first] == ["m4", "m-shared"]
    assert [m["id"] for m in second] == ["m2", "m1"]
    assert paging.total == 4 and paging.pages == 2


def test_my_matches_past_what_the_api_lists_point_to_each_agents_page() -> None:
    api = FakeApi({"a1": [match(f"m{i}", f"2026-01-01T00:00:{i:02d}Z") for i in range(30)]})
    shown, paging = recent_matches(api, [{"id": "a1"}], Paging(11, 10))
    assert shown == [] and paging.total == 30
    html = my_agents([{"id": "a1"}], [], user="ann", matches=shown, paging=paging, query={"page": "11"})
    assert "Older matches are listed on each agent" in html and "Page 11 of 3" in html
