"""The leaderboard page says whether and with which WebSocket ticket its script follows the board."""

from __future__ import annotations

from rlarena.web.pages import leaderboard

GAME = {"id": "pong", "name": "Pong"}


def test_a_signed_in_viewer_follows_the_board_with_a_ticket_not_the_token() -> None:
    html = leaderboard(GAME, [], sort="elo", user="ann", live=True, ticket="t1ck")
    assert 'data-environment-id="pong"' in html and 'data-live-ticket="t1ck"' in html
    assert "data-live-token" not in html


def test_without_a_live_relay_the_page_does_not_try() -> None:
    html = leaderboard(GAME, [], sort="elo", user=None, live=False, ticket=None)
    assert "data-environment-id" not in html and "data-live-ticket" not in html


def test_an_anonymous_relay_is_followed_without_a_ticket() -> None:
    html = leaderboard(GAME, [], sort="elo", user=None, live=True)
    assert 'data-environment-id="pong"' in html and "data-live-ticket" not in html
