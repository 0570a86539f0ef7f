"""The game as it stood when an agent failed, in words for a build log: the move it failed on, the
board drawn as text, and the observation the failing player had been sent (taken from the match's
replay frames: a failed step adds no frame, so the last frame is the position the agent saw)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

# An observation value longer than this (chess's planes, big masks) is cut in the log.
VALUE_CAP = 240
_MARKS = {0: ".", 1: "X", 2: "O"}


def failure_state(frames: Sequence[Mapping[str, Any]], player: int) -> str:
    """Lines describing where `player` failed; "" when no frame was recorded."""
    if not frames:
        return ""
    last = frames[-1]
    step = int(last.get("frame_number", len(frames) - 1))  # configuration["step"] when it failed
    lines = [f"game state when player {player} failed at step {step} (move {step + 1} of the game):"]
    lines.extend(f"  {line}" for line in _board(last.get("info") or {}))
    observations = last.get("observations") or []
    if player < len(observations) and isinstance(observations[player], Mapping):
        lines.append(f"  the observation player {player} was sent:")
        lines.extend(f"    {key}: {_shown(value)}" for key, value in observations[player].items())
    return "\n".join(lines)


def _board(info: Mapping[str, Any]) -> list[str]:
    board = info.get("board")
    if isinstance(board, list):
        rows = [" ".join(_MARKS.get(cell, "?") for cell in row) for row in board if isinstance(row, list)]
        return ["board (X is player 0, O is player 1):", *(f"  {row}" for row in rows)]
    fen = info.get("fen")
    if isinstance(fen, str):
        return [f"position (FEN): {fen}", *(f"  {rank}" for rank in _ranks(fen))]
    if "ball_pos" in info:
        return [
            f"ball at {_shown(info.get('ball_pos'))}, paddles at {_shown(info.get('paddle_positions'))}, "
            f"score {_shown(info.get('score'))}"
        ]
    return [f"state: {_shown(dict(info))}"] if info else []


def _ranks(fen: str) -> list[str]:
    """The board of a FEN, rank 8 first, white in capitals, empty squares as dots."""
    ranks = fen.split(" ", maxsplit=1)[0].split("/")
    return [" ".join("".join("." * int(c) if c.isdigit() else c for c in rank)) for rank in ranks]


def _shown(value: object) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= VALUE_CAP else text[: VALUE_CAP - 3] + "..."
