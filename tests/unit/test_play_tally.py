"""What `rlarena play` prints from its matches: results by side, statuses, move times, failures."""

from __future__ import annotations

from rlarena.authoring.local_matches import GameRecord
from rlarena.authoring.tally import Tally


def _record(number: int, a_player: int, a_score: float, **changes: object) -> GameRecord:
    values: dict[str, object] = {
        "number": number,
        "seed": 10 + number,
        "a_player": a_player,
        "a_score": a_score,
        "statuses": ("OK", "OK"),
        "errors": ("", ""),
        "move_times": ([0.001 * number, 0.002], [0.010]),
        "steps": 7,
        "reason": "three in a row",
        "platform_error": "",
        "replay": None,
    }
    values.update(changes)
    return GameRecord(**values)  # type: ignore[arg-type]


def test_the_summary_counts_results_by_side_statuses_and_move_times() -> None:
    tally = Tally(("mine.py", "house:random"))
    tally.add(_record(1, 0, 1.0))
    tally.add(_record(2, 1, 0.5, reason="board full"))
    crash = "RuntimeError: boom\nTraceback (most recent call last):\n  File x\nRuntimeError: boom"
    tally.add(_record(3, 0, 0.0, statuses=("ERROR", "OK"), errors=(crash, ""), reason="ERROR by mine.py"))
    tally.add(_record(4, 1, 1.0, statuses=("OK", "TIMEOUT"), errors=("", "no action within 2 s")))
    lines = tally.summary_lines()
    assert lines[0] == "4 games: A = mine.py, B = house:random"
    assert "A: 2 won, 1 drawn, 1 lost" in lines
    assert "  A as player 0: 1 won, 0 drawn, 1 lost" in lines
    assert "  A as player 1: 1 won, 1 drawn, 0 lost" in lines
    assert "status of A: OK 3, ERROR 1, TIMEOUT 0, INVALID 0" in lines
    assert "status of B: OK 3, ERROR 0, TIMEOUT 1, INVALID 0" in lines
    # A's moves: 1, 2, 2, 2, 3, 2, 4, 2 ms -> p50 2.0, p95 and max 4.0.
    assert "move time of A: p50 2.0 ms, p95 4.0 ms, max 4.0 ms (8 moves)" in lines
    assert "move time of B: p50 10.0 ms, p95 10.0 ms, max 10.0 ms (4 moves)" in lines
    assert any(line.startswith("score of A: 0.625 (95% CI ") for line in lines)
    assert "ended by: three in a row 2, board full 1, ERROR by mine.py 1" in lines
    failures = lines[lines.index("first failure of A (game 3, seed 13, ERROR):") :]
    assert failures[1:5] == [
        "  RuntimeError: boom",
        "  Traceback (most recent call last):",
        "    File x",
        "  RuntimeError: boom",
    ]
    assert "first failure of B (game 4, seed 14, TIMEOUT):" in failures
    assert "  no action within 2 s" in failures


def test_a_match_the_platform_could_not_play_is_left_out_and_named() -> None:
    tally = Tally(("a", "b"), letters=("NEW", "OLD"))
    tally.add(_record(1, 0, 1.0))
    tally.add(_record(2, 1, 0.0, platform_error="SandboxError: no uid left"))
    lines = tally.summary_lines(with_score=False)
    assert lines[0] == "1 game: NEW = a, OLD = b"
    assert "NEW: 1 won, 0 drawn, 0 lost" in lines
    assert not any(line.startswith("score of") for line in lines)
    assert lines[-1] == "1 match(es) could not be played: SandboxError: no uid left"
    assert tally.progress_text() == "NEW 1 won, 0 drawn, 0 lost"
