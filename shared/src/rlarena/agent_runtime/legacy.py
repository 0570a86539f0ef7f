"""The old rl-arena interface (`rl-arena-v1`): the game's plain observation, as its executor passed it.

Standard library only (runs next to the agent). The old executor called `act(observation)` on an
object from `create_agent(player_id=...)` or `Agent(player_id=...)` with the environment's own
observation: for Pong the 8 floats [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y,
score1, score2], the same list for both players. Here that is the native observation's
`observation` field (a list; `numpy.asarray(observation, dtype=numpy.float32)` gives the array the
old environment made), for every game; the configuration and the action are the native ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

NAME = "rl-arena-v1"


def observation_of(observation: Any) -> Any:
    if isinstance(observation, Mapping) and "observation" in observation:
        return observation["observation"]
    return observation


def adapt(call: Callable[[Any, Any], Any]) -> Callable[[Any, Mapping[str, Any], float | None], Any]:
    def turn(observation: Any, configuration: Mapping[str, Any], remaining_overage: float | None) -> Any:
        return call(observation_of(observation), configuration)

    return turn
