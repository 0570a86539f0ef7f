"""The leaderboard page says whether and as whom its script follows the board over the WebSocket."""

from __future__ import annotations

from rlarena.web.pages import leaderboard

GAME = {"id": "pong", "name": "Pong"}


def test_a_signed_in_viewer_follows_the_board_with_their_token() -> None:
    html = leaderboard(GAME, [], sort="elo", user="ann", live=True, token="t0k")
    assert 'data-environment-id="pong"' in html and 'data-live-token="t0k"' in html


def test_without_a_live_relay_the_page_does_not_try() -> None:
    html = leaderboard(GAME, [], sort="elo", user=None, live=False, token=None)
    assert "data-environment-id" not in html and "data-live-token" not in html


def test_an_anonymous_relay_is_followed_without_a_token() -> None:
    html = leaderboard(GAME, [], sort="elo", user=None, live=True)
    assert 'data-environment-id="pong"' in html and "data-live-token" not in html
