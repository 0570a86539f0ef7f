"""The store of rendered leaderboard pages: a page is served only under the stamp it was read at."""

from __future__ import annotations

from rlarena.service.rendered_boards import RenderedBoards

AT_ONE = (("pong", 1),)
AT_TWO = (("pong", 2),)


def test_a_page_is_served_only_under_its_own_stamp() -> None:
    pages = RenderedBoards()
    pages.put("page 1", AT_ONE, b"[1]")
    assert pages.get("page 1", AT_ONE) == b"[1]"
    assert pages.get("page 1", AT_TWO) is None
    assert pages.get("page 2", AT_ONE) is None
    pages.put("page 1", AT_TWO, b"[2]")
    assert pages.get("page 1", AT_ONE) is None
    assert pages.get("page 1", AT_TWO) == b"[2]"


def test_the_least_recently_served_page_goes_first_when_full() -> None:
    pages = RenderedBoards(capacity=2)
    pages.put("a", AT_ONE, b"a")
    pages.put("b", AT_ONE, b"b")
    assert pages.get("a", AT_ONE) == b"a"
    pages.put("c", AT_ONE, b"c")
    assert pages.get("b", AT_ONE) is None
    assert (pages.get("a", AT_ONE), pages.get("c", AT_ONE)) == (b"a", b"c")
