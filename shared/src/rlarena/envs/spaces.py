"""The Gymnasium spaces of a game, read off a real observation so they follow the game's code.

Board games: {"observation": int8 planes (0/1), "action_mask": int8 (1 legal), "player": 0/1};
pong: {"observation": float32[8] (ball x, y, vx, vy, paddles' y, scores), "player": 0/1}.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from rlarena.environments import pong
from rlarena.environments.base import Environment

# Pong's eight numbers, bounded by its own constants (the ball's x leaves [0, 1] only to score).
_PONG_LOW = np.array([0.0, 0.0, -pong.BALL_SPEED, -pong.BALL_SPEED, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
_PONG_HIGH = np.array(
    [1.0, 1.0, pong.BALL_SPEED, pong.BALL_SPEED, 1.0, 1.0, pong.POINTS_TO_WIN, pong.POINTS_TO_WIN], dtype=np.float32
)


def observation_space(game: Environment) -> spaces.Dict:
    sample = game.observation(0)
    player = spaces.Discrete(game.spec.players)
    if "action_mask" not in sample:
        # Rounding to float32 is monotonic, so a value within a bound stays within it.
        box = spaces.Box(_PONG_LOW, _PONG_HIGH, dtype=np.float32)
        return spaces.Dict({"observation": box, "player": player})
    planes = np.asarray(sample["observation"], dtype=np.int8)
    actions = len(sample["action_mask"])
    return spaces.Dict(
        {
            "observation": spaces.Box(0, 1, planes.shape, dtype=np.int8),
            "action_mask": spaces.Box(0, 1, (actions,), dtype=np.int8),
            "player": player,
        }
    )


def action_space(game: Environment) -> spaces.Discrete:
    sample = game.observation(0)
    if "action_mask" in sample:
        return spaces.Discrete(len(sample["action_mask"]))
    return spaces.Discrete(len(game.legal_actions(0)))


def as_arrays(observation: dict[str, Any], space: spaces.Dict) -> dict[str, Any]:
    """The runtime's observation dict as the arrays `space` holds (the rest stays in `info`)."""
    arrays: dict[str, Any] = {"player": int(observation["player"])}
    for key in ("observation", "action_mask"):
        if key in space.spaces:
            box = space.spaces[key]
            arrays[key] = np.asarray(observation[key], dtype=box.dtype).reshape(box.shape)
    return arrays
