"""Pong, the platform's own game, with the old system's field and speeds (pure Python).

The field is the unit square with y growing downward, as the old frontend draws it: action 0
(up) lowers a paddle's y. Paddle positions are their centres. Each step both paddles move, then
the ball; a ball whose centre leaves the field on the left scores for player 1, on the right
for player 0, and is served again from the centre.

Paddle bounces keep it simple and predictable: the ball leaves at the same speed, at an angle
proportional to where it hit (centre: straight back, an edge: 45 degrees), so agents can aim.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from rlarena.environments.base import EnvironmentSpec, Outcome, check_actions

PADDLE_HEIGHT = 0.2
PADDLE_SPEED = 0.05
BALL_RADIUS = 0.02
BALL_SPEED = 0.02
PADDLE_X = (0.05, 0.95)
POINTS_TO_WIN = 11
MAX_ANGLE = math.pi / 4  # of a serve or a return from the horizontal; keeps rallies moving
UP, STAY, DOWN = 0, 1, 2
_MOVES = {UP: -PADDLE_SPEED, STAY: 0.0, DOWN: PADDLE_SPEED}
_HALF_PADDLE = PADDLE_HEIGHT / 2


class Pong:
    def __init__(self, spec: EnvironmentSpec) -> None:
        self.spec = spec
        self.reset(0)

    def reset(self, seed: int) -> None:
        # Only the serves are random; one generator per match makes a seed replay the match.
        self._rng = random.Random(seed)  # noqa: S311 - game dice, not secrets
        self._paddles = [0.5, 0.5]
        self._score = [0, 0]
        self._steps = 0
        self._rewards = (0.0, 0.0)
        self._outcome: Outcome | None = None
        self._serve()

    @property
    def steps(self) -> int:
        return self._steps

    def done(self) -> bool:
        return self._outcome is not None

    def to_act(self) -> list[int]:
        return [] if self.done() else [0, 1]

    def legal_actions(self, player: int) -> list[int]:
        return sorted(_MOVES) if player in self.to_act() else []

    def observation(self, player: int) -> dict[str, Any]:
        state = [self._x, self._y, self._vx, self._vy, *self._paddles, *self._score]
        return {"observation": [float(value) for value in state], "player": player}

    def step(self, actions: Mapping[int, int]) -> None:
        check_actions(self, actions)
        for player, action in actions.items():
            moved = self._paddles[player] + _MOVES[action]
            self._paddles[player] = min(max(moved, _HALF_PADDLE), 1.0 - _HALF_PADDLE)
        self._move_ball()
        self._steps += 1
        self._outcome = self._judge()

    def last_rewards(self) -> tuple[float, float]:
        return self._rewards

    def outcome(self) -> Outcome:
        if self._outcome is None:
            raise ValueError("the game is not over")
        return self._outcome

    def frame(self) -> dict[str, Any]:
        # The keys and shapes the old frontend's replay canvas reads.
        return {"ball_pos": [self._x, self._y], "paddle_positions": list(self._paddles), "score": list(self._score)}

    def _serve(self) -> None:
        angle = self._rng.uniform(-MAX_ANGLE, MAX_ANGLE)
        direction = self._rng.choice((-1, 1))
        self._x, self._y = 0.5, 0.5
        self._vx = direction * BALL_SPEED * math.cos(angle)
        self._vy = BALL_SPEED * math.sin(angle)

    def _move_ball(self) -> None:
        previous_x = self._x
        self._x += self._vx
        self._y += self._vy
        if self._y < BALL_RADIUS:  # mirror the overshoot back into the field
            self._y, self._vy = 2 * BALL_RADIUS - self._y, abs(self._vy)
        elif self._y > 1.0 - BALL_RADIUS:
            self._y, self._vy = 2 * (1.0 - BALL_RADIUS) - self._y, -abs(self._vy)
        left, right = PADDLE_X
        # A paddle is only hit by a ball crossing its face this step, so one that got past
        # cannot be knocked back from behind.
        if self._vx < 0 and self._x - BALL_RADIUS <= left <= previous_x - BALL_RADIUS:
            self._bounce(0, direction=1)
        elif self._vx > 0 and previous_x + BALL_RADIUS <= right <= self._x + BALL_RADIUS:
            self._bounce(1, direction=-1)
        self._rewards = (0.0, 0.0)
        if self._x < 0.0:
            self._point(1)
        elif self._x > 1.0:
            self._point(0)

    def _bounce(self, player: int, direction: int) -> None:
        offset = (self._y - self._paddles[player]) / (_HALF_PADDLE + BALL_RADIUS)
        if abs(offset) > 1.0:
            return  # missed the paddle
        angle = offset * MAX_ANGLE
        self._x = PADDLE_X[player] + direction * BALL_RADIUS
        self._vx = direction * BALL_SPEED * math.cos(angle)
        self._vy = BALL_SPEED * math.sin(angle)

    def _point(self, scorer: int) -> None:
        self._score[scorer] += 1
        self._rewards = (1.0, -1.0) if scorer == 0 else (-1.0, 1.0)
        self._serve()

    def _judge(self) -> Outcome | None:
        first, second = self._score
        if max(first, second) >= POINTS_TO_WIN:
            return _decided(first, second, f"{POINTS_TO_WIN} points")
        if self._steps >= self.spec.max_steps:
            return _decided(first, second, "step limit")
        return None


def _decided(first: int, second: int, reason: str) -> Outcome:
    if first == second:
        return Outcome(winner=None, scores=(0.5, 0.5), reason=reason)
    winner = 0 if first > second else 1
    return Outcome(winner=winner, scores=(1.0, 0.0) if winner == 0 else (0.0, 1.0), reason=reason)
