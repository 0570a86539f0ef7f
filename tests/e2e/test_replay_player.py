"""The replay player (rlarena/replays/player.js) in a real browser, on real matches of every game.

Each game is played by house agents on the platform's own match runner, its replay completed the
way the API completes a served replay (names, versions, rating), written as the HTML replay
GET /matches/{id}/replay?format=html serves, and opened in chromium: the board drawn at each turn
is compared with the replay's frame, through the buttons, the keys, the slider and `#turn=N`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import chess
import pytest
from playwright.sync_api import Page

from rlarena.authoring.local_matches import local_arena
from rlarena.config import Settings
from rlarena.replays.html import render_html
from tests.conftest import make_settings
from tests.support.browser import screenshot

# The strong house agent of each game against random: short, decided games.
HOUSE = {
    "tic-tac-toe": "house:negamax",
    "connect-four": "house:negamax",
    "chess": "house:search",
    "pong": "house:follower",
}
NAMES = ["Alpha <b>bold</b>", "Beta & co"]  # markup in a name must show as text
VERSIONS = [3, 1]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("replay-player"))


@pytest.fixture(scope="module", params=sorted(HOUSE))
def served(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], str]:
    game: str = request.param
    with local_arena(game, HOUSE[game], "house:random", settings) as arena:
        record = arena.play(1, seed=11, a_first=True, record_replay=True)
    replay = record.replay
    assert replay is not None and record.platform_error == ""
    # What rlarena.service.matches.replay_of adds from the match's record.
    replay["metadata"].update(agent_names=NAMES, agent_versions=VERSIONS, is_rated=True)
    path = tmp_path_factory.mktemp(game) / "replay.html"
    path.write_text(render_html(replay), encoding="utf-8")
    return replay, path.as_uri()


def _frame_info(replay: dict[str, Any], turn: int) -> dict[str, Any]:
    info: dict[str, Any] = replay["frames"][turn]["info"]
    return info


def _expected(game: str, info: dict[str, Any]) -> Any:
    """What the board should show for a frame's info, in the shape `_drawn` reads it."""
    if game in ("tic-tac-toe", "connect-four"):
        return [[int(value) for value in row] for row in info["board"]]
    if game == "chess":
        board = chess.Board(info["fen"])
        return [
            "".join(
                (piece.symbol() if (piece := board.piece_at(chess.square(file, rank))) else ".") for file in range(8)
            )
            for rank in range(7, -1, -1)
        ]
    return {
        "ball": [round(v * 100, 3) for v in info["ball_pos"]],
        "paddles": [round((v - 0.1) * 100, 3) for v in info["paddle_positions"]],
        "score": [str(v) for v in info["score"]],
    }


def _drawn(page: Page, game: str) -> Any:
    """What the player drew, read back from the page's elements (not from its data attributes)."""
    board = page.locator("[data-role=board]")
    if game in ("tic-tac-toe", "connect-four"):
        cells = [int(value) for value in board.locator("[data-cell]").evaluate_all("cs => cs.map(c => c.dataset.cell)")]
        width = 3 if game == "tic-tac-toe" else 7
        if game == "connect-four":  # the last disc dropped, and only it, is ringed
            assert board.locator(".rlr-last").count() == (1 if any(cells) else 0)
        if game == "tic-tac-toe":  # the marks themselves, as people see them
            marks = board.locator("[data-cell]").all_inner_texts()
            assert marks == [{0: "", 1: "X", 2: "O"}[value] for value in cells]
        return [cells[i : i + width] for i in range(0, len(cells), width)]
    if game == "chess":
        pieces = board.locator("[data-square]").evaluate_all("cs => cs.map(c => [c.dataset.piece, c.textContent])")
        glyphs = {"K": "♔", "Q": "♕", "R": "♖", "B": "♗", "N": "♘", "P": "♙"}
        glyphs |= {k.lower(): chr(ord(v) + 6) for k, v in glyphs.items()}
        for piece, text in pieces:
            assert text == glyphs.get(piece, "")
        letters = "".join(piece or "." for piece, _ in pieces)
        return [letters[i : i + 8] for i in range(0, 64, 8)]
    court = board.locator(".rlr-court")
    ball = court.locator(".rlr-ball").evaluate("b => [b.style.left, b.style.top]")
    paddles = court.locator("[data-paddle]").evaluate_all("ps => ps.map(p => p.style.top)")
    return {
        "ball": [round(float(v.rstrip("%")), 3) for v in ball],
        "paddles": [round(float(v.rstrip("%")), 3) for v in paddles],
        "score": court.locator("[data-score]").all_inner_texts(),
    }


def _check_turn(page: Page, replay: dict[str, Any], game: str, turn: int) -> None:
    last = len(replay["frames"]) - 1
    board = page.locator("[data-role=board]")
    assert board.get_attribute("data-turn") == str(turn)
    assert page.locator("[data-role=counter]").inner_text() == f"Turn {turn} / {last}"
    assert page.get_by_label("Turn").input_value() == str(turn)
    drawn, expected = _drawn(page, game), _expected(game, _frame_info(replay, turn))
    if game == "pong":  # CSS keeps a few digits of a percentage
        assert drawn["score"] == expected["score"]
        assert drawn["ball"] == pytest.approx(expected["ball"], abs=0.01)
        assert drawn["paddles"] == pytest.approx(expected["paddles"], abs=0.01)
    else:
        assert drawn == expected
    state = json.loads(board.get_attribute("data-state") or "null")
    info = _frame_info(replay, turn)
    if game == "chess":
        assert state == info["fen"]
        assert page.locator(".rlr-fen").inner_text().startswith(info["fen"])
    elif game == "pong":
        assert state == {"ball": info["ball_pos"], "paddles": info["paddle_positions"], "score": info["score"]}
    else:
        assert state == info["board"]


def test_the_html_replay_plays_every_game(page: Page, served: tuple[dict[str, Any], str]) -> None:
    replay, url = served
    metadata = replay["metadata"]
    game = re.sub(r"-v\d+$", "", metadata["environment"])
    frames = replay["frames"]
    last = len(frames) - 1
    assert last >= 4, "a game this short tests no stepping"

    page.goto(url)
    screenshot(page, f"{game}-opened")
    agents = page.locator("[data-role=agents] li").all_inner_texts()
    assert [line.split(": ", 1)[1] for line in agents] == ["Alpha <b>bold</b> (v3)", "Beta & co (v1)"]
    assert page.locator("[data-role=end-reason]").inner_text() == f"Ended by: {metadata['end_reason']}"
    winner = metadata["winner"]
    result = page.locator("[data-role=result]").inner_text()
    assert result.startswith(f"Winner: {NAMES[metadata['agents'].index(winner)]}" if winner else "Result: draw")
    _check_turn(page, replay, game, 0)

    # Every control has a visible text label, and the slider a label.
    buttons = page.get_by_role("button")
    assert [text.strip() for text in buttons.all_inner_texts()] == ["◀ Step back", "Play", "Step forward ▶"]
    for name in ("Step back", "Play", "Step forward"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box is not None and box["width"] > 40
    assert page.get_by_label("Speed").input_value() == "1"

    forward, back = page.get_by_role("button", name="Step forward"), page.get_by_role("button", name="Step back")
    forward.click()
    forward.click()
    _check_turn(page, replay, game, 2)
    back.click()
    _check_turn(page, replay, game, 1)
    assert page.evaluate("location.hash") == "#turn=1"
    screenshot(page, f"{game}-turn-1")

    page.locator("[data-role=board]").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    _check_turn(page, replay, game, 3)
    page.keyboard.press("ArrowLeft")
    _check_turn(page, replay, game, 2)

    page.get_by_label("Turn").fill(str(last))
    _check_turn(page, replay, game, last)
    assert page.evaluate("location.hash") == f"#turn={last}"
    forward.click()  # already at the end: stays there
    _check_turn(page, replay, game, last)
    screenshot(page, f"{game}-last-turn")

    # Space plays from the start (it was at the end) and pauses again.
    page.locator("[data-role=board]").click()
    page.keyboard.press(" ")
    page.wait_for_function("Number(document.querySelector('[data-role=board]').dataset.turn) >= 1")
    assert page.get_by_role("button", name="Pause").is_visible()
    page.keyboard.press(" ")
    assert page.get_by_role("button", name="Play").inner_text() == "Play"
    paused = int(page.locator("[data-role=board]").get_attribute("data-turn") or "-1")
    page.wait_for_timeout(300)
    _check_turn(page, replay, game, paused)

    middle = last // 2
    page.goto("about:blank")
    page.goto(f"{url}#turn={middle}")
    _check_turn(page, replay, game, middle)
    screenshot(page, f"{game}-linked-turn-{middle}")
    page.evaluate("location.hash = '#turn=1'")
    page.wait_for_function("document.querySelector('[data-role=board]').dataset.turn === '1'")
    _check_turn(page, replay, game, 1)

    # A phone-width screen: everything fits across, nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{url}#turn={last}")
    _check_turn(page, replay, game, last)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.locator("[data-role=board] > *").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    screenshot(page, f"{game}-phone")


@pytest.mark.parametrize(
    ("replay", "shown"),
    [
        ({}, "This replay has no turns."),
        (
            {"metadata": {"environment": "go-v1", "agents": ["a", "b"]}, "frames": [{"info": {"stones": 3}}]},
            "No drawing",
        ),
    ],
)
def test_a_replay_without_turns_or_of_an_unknown_game_shows_so_without_errors(
    page: Page, tmp_path: Path, replay: dict[str, Any], shown: str
) -> None:
    path = tmp_path / "replay.html"
    path.write_text(render_html(replay), encoding="utf-8")
    page.goto(path.as_uri())
    assert shown in page.locator("[data-role=board]").inner_text()
    assert page.locator("[data-role=board]").get_attribute("data-turn") == "0"
    page.keyboard.press("ArrowRight")
    page.get_by_role("button", name="Play").click()
    assert page.locator("[data-role=board]").get_attribute("data-turn") == "0"
    screenshot(page, "no-drawing")
