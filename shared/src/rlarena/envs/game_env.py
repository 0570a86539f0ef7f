"""`GameEnv`: one game of the platform against an opponent, as a Gymnasium environment.

Each step the learner's action goes through the rules the match runner applies: an action the
game does not list as legal ends the episode as a loss (-1), as it does on the platform (INVALID).
Board games reward the result at the end, +1 / 0 / -1; pong rewards each point, +1 / -1, as its
replay `rewards` do, and ends at 11 points or the step limit. An opponent that raises or plays an
illegal action forfeits: the episode ends, +1 for the learner. `info` holds the observation dict
exactly as the runtime sends it (`info["observation"]`, with `legal_actions`, the board rows or FEN
...), the `configuration`, the learner's `side` and, at the end, the `outcome`.
"""

from __future__ import annotations

import operator
import random
from typing import Any, Literal, SupportsIndex

import gymnasium
import numpy as np
from gymnasium import spaces

from rlarena.environments.base import Environment, Outcome
from rlarena.environments.guide import configuration
from rlarena.environments.registry import create
from rlarena.envs.opponents import Opponent, OpponentMove
from rlarena.envs.spaces import action_space, as_arrays, observation_space

Side = Literal[0, 1, "alternate"]
_SEED_BOUND = 2**31 - 1
_FORFEIT = 1.0  # the reward of a match won by the other side's failure (-1 for the learner's own)


class GameEnv(gymnasium.Env[dict[str, Any], np.int64]):
    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - Gymnasium's own attribute
    observation_space: spaces.Dict
    action_space: spaces.Discrete

    def __init__(self, game: str, opponent: str, *, side: Side = "alternate", seed: int | None = None) -> None:
        if side not in (0, 1, "alternate"):
            raise ValueError(f"side must be 0, 1 or 'alternate', not {side!r}")
        self.game: Environment = create(game)
        self.opponent = Opponent(self.game.spec.id, opponent)
        self.observation_space = observation_space(self.game)
        self.action_space = action_space(self.game)
        self._side_choice = side
        self._first_seed = seed
        self._seeded = False
        self._episodes = 0
        self.side: int = 0 if side == "alternate" else side
        self._board_game = "action_mask" in self.observation_space.spaces
        self._ended = True  # until reset()
        self._forfeit_at_start = ""  # the opponent forfeited before the learner's first move

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is None and not self._seeded:
            seed = self._first_seed
        super().reset(seed=seed)
        if seed is not None:
            self._seeded, self._episodes = True, 0
        if self._seeded:
            # House agents draw from `random`: seeded with the episode, a seeded run replays.
            random.seed(int(self.np_random.integers(_SEED_BOUND)))
        self.side = self._next_side(options or {})
        self._episodes += 1
        self.game.reset(int(self.np_random.integers(_SEED_BOUND)))
        self.opponent.start(1 - self.side)
        self._ended = False
        # A forfeit before the learner's first move is reported by that move's step.
        _, self._forfeit_at_start = self._opponent_turns()
        observation, _, _, _, info = self._observed(reward=0.0)
        return observation, info

    def step(self, action: SupportsIndex) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._ended:
            raise RuntimeError("the episode is over: call reset()")
        if self._forfeit_at_start:
            return self._observed(forfeit=self._forfeit_at_start, reward=_FORFEIT)
        try:
            # numpy integers too; a float or a bool is no action, as in a match
            move = operator.index(action) if not isinstance(action, bool) else None
        except TypeError:
            move = None
        if move is None:
            return self._observed(illegal=f"the action {action!r} is not an integer", reward=-_FORFEIT)
        if move not in self.game.legal_actions(self.side):
            return self._observed(illegal=f"the action {move} is not legal in this position", reward=-_FORFEIT)
        actions: dict[int, int] = {self.side: move}
        if len(self.game.to_act()) > 1:  # simultaneous moves (pong): the opponent sees the same state
            opponent = self._opponent_move()
            if opponent.action is None:
                return self._observed(forfeit=opponent.failure, reward=_FORFEIT)
            actions[1 - self.side] = opponent.action
        self.game.step(actions)
        reward = self._points()
        if not self.game.done():
            points, forfeit = self._opponent_turns()
            if forfeit:
                return self._observed(forfeit=forfeit, reward=reward + points + _FORFEIT)
            reward += points
        return self._observed(reward=reward + self._result())

    def close(self) -> None:
        self.opponent.close()
        super().close()

    def _next_side(self, options: dict[str, Any]) -> int:
        side = options.get("side", self._side_choice)
        if side == "alternate":
            return self._episodes % 2
        if side not in (0, 1):
            raise ValueError(f"options['side'] must be 0, 1 or 'alternate', not {side!r}")
        return int(side)

    def _opponent_turns(self) -> tuple[float, str]:
        """Let the opponent play while only it is to act (turn-based games): the learner's points
        meanwhile, and why the opponent forfeited ("" when it did not)."""
        points = 0.0
        while self.game.to_act() == [1 - self.side]:
            opponent = self._opponent_move()
            if opponent.action is None:
                return points, opponent.failure
            self.game.step({1 - self.side: opponent.action})
            points += self._points()
        return points, ""

    def _opponent_move(self) -> OpponentMove:
        other = 1 - self.side
        return self.opponent.move(self.game, other, self._configuration(other))

    def _configuration(self, player: int) -> dict[str, Any]:
        spec = self.game.spec
        return configuration(
            spec, player=player, step=self.game.steps, move_timeout_s=spec.move_timeout_s, overage_s=spec.overage_s
        )

    def _points(self) -> float:
        """Pong's per-point reward for the learner; 0 in board games until their end."""
        if self._board_game:
            return 0.0
        return float(self.game.last_rewards()[self.side])

    def _result(self) -> float:
        if not self.game.done() or not self._board_game:
            return 0.0
        return 2.0 * self.game.outcome().scores[self.side] - 1.0

    def _observed(
        self, *, reward: float, illegal: str = "", forfeit: str = ""
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        raw = self.game.observation(self.side)
        info: dict[str, Any] = {
            "observation": raw,
            "configuration": self._configuration(self.side),
            "side": self.side,
        }
        ended = bool(illegal or forfeit) or self.game.done()
        if illegal:
            info["outcome"] = _forfeited(1 - self.side, f"illegal action: {illegal}")
        elif forfeit:
            info["outcome"] = _forfeited(self.side, f"opponent forfeits: {forfeit}")
        elif self.game.done():
            info["outcome"] = self.game.outcome()
        self._ended = ended
        return as_arrays(raw, self.observation_space), float(reward), ended, False, info


def _forfeited(winner: int, reason: str) -> Outcome:
    return Outcome(winner=winner, scores=(1.0, 0.0) if winner == 0 else (0.0, 1.0), reason=reason)
